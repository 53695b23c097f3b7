#!/bin/sh
# Ready when the store answers its health check on the machine's address.
. ./bootenv.sh
port=$(cat port)
node -e "fetch('http://$bind:$port/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
