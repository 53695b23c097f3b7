#!/bin/sh
# Registers this app instance with the store named in bootconf.json.
set -e
. ./bootenv.sh
node -e "
fetch(process.argv[1] + '/apps/' + process.argv[2], { method: 'PUT', body: process.argv[3] })
  .then(r => process.exit(r.ok ? 0 : 1), e => { console.error(e.message); process.exit(1); })
" "$store_url" "$name" "$greeting"
echo "$name registered with $store_url"
