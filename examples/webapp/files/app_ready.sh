#!/bin/sh
# argv: the store URL and the greeting. Ready when the store has our
# registration and it holds the greeting we were given.
. ./bootenv.sh
node -e "
fetch(process.argv[1] + '/apps/' + process.argv[2])
  .then(r => r.text().then(t => process.exit(r.ok && t === process.argv[3] ? 0 : 1)), () => process.exit(1))
" "$1" "$name" "$2"
