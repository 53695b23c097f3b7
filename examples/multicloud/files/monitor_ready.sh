#!/bin/sh
# argv: store URL, queue URL. Ready when both answer their health check.
node -e "
const urls = process.argv.slice(1);
Promise.all(urls.map((u) => fetch(u + '/health').then((r) => { if (!r.ok) throw new Error(u + ': ' + r.status); })))
  .then(() => console.log('store and queue are up: ' + urls.join(', ')))
  .catch((e) => { console.error(e.message); process.exit(1); });
" "$@"
