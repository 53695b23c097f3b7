#!/usr/bin/env bash
# Installs what is needed (pnpm, dependencies), then boots the webapp example
# on this machine, checks it, shows what it published, and tears it down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-ssh >/dev/null
db=".cloudboot-example"
run="webapp-$(date +%H%M%S)"
cb() { node --conditions=source --import tsx packages/cli/src/main.ts "$@"; }

echo "== cloudboot boot examples/webapp/top.conf -n $run -d $db -o $db/$run.json"
cb boot examples/webapp/top.conf -n "$run" -d "$db" -o "$db/$run.json"
echo
echo "== cloudboot status $run -d $db"
cb status "$run" -d "$db"
echo
port=$(node -p "require('./$db/$run.json').levels[0].services[0].attributes.port")
echo "== the store is really up: GET http://127.0.0.1:$port/apps/app-0"
node -e "fetch('http://127.0.0.1:$port/apps/app-0').then(r => r.text()).then(t => console.log('   ' + t))"
echo
echo "== cloudboot terminate $run -d $db"
cb terminate "$run" -d "$db"
