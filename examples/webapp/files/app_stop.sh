#!/bin/sh
# Unregisters this app instance.
. ./bootenv.sh
node -e "fetch(process.argv[1] + '/apps/' + process.argv[2], { method: 'DELETE' }).catch(() => {})" "$store_url" "$name"
echo "$name unregistered"
