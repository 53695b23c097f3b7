#!/bin/sh
# Ready when the store answers its health check.
port=$(cat port)
node -e "fetch('http://127.0.0.1:$port/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
