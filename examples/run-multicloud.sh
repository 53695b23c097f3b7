#!/usr/bin/env bash
# Boots examples/multicloud/ — one plan across EC2, OpenStack, GCE and an
# existing machine — with the real drivers against the fake clouds of the
# test suite, on this machine only: sshd "machines" on loopback addresses
# stand behind the fake clouds' instances. Then shows status and the history
# of every instance, terminates, and checks that no instance is left live in
# any fake cloud. Needs openssh-server (installed when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
# The test suite runs this script after its own install, with a database directory of its own.
[ -n "${CLOUDBOOT_EXAMPLE_NO_SETUP:-}" ] || bash scripts/setup.sh >/dev/null
db="${CLOUDBOOT_EXAMPLE_DB:-.cloudboot-example}"
run="multicloud-$(date +%H%M%S)"
work=$(mktemp -d "${TMPDIR:-/tmp}/cloudboot-multicloud-XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
tsnode() { node --conditions=source --import tsx "$@"; }
cb() { tsnode packages/cli/src/main.ts "$@"; }

# Starts a background process and waits for the JSON line it prints first.
serve() {
  local name=$1
  shift
  # node itself in the background (not a shell function's subshell), so that cleanup's kill reaches it.
  node --conditions=source --import tsx "$@" >"$work/$name.json" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 1 300); do
    if [ -s "$work/$name.json" ]; then return 0; fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "run-multicloud: $name did not start:" >&2
  cat "$work/$name.err" >&2
  exit 1
}
field() { node -p "JSON.parse(require('fs').readFileSync('$work/$1.json', 'utf8').split('\n')[0])$2"; }

echo "== starting 4 sshd machines on loopback and the fake EC2, OpenStack and GCE"
serve sshd test/harness/serve-sshd.ts 4
addr() { field sshd ".addresses[$1]"; }
serve ec2 test/fakes/serve-ec2.ts --addresses "$(addr 0)"
serve openstack test/fakes/serve-openstack.ts "{\"addresses\": [\"$(addr 1)\"]}"
serve gce test/fakes/serve-gce.ts --addresses "$(addr 2)"

export CB_SSH_USER=$(field sshd .username) CB_SSH_KEY=$(field sshd .keyPath) CB_SSH_PORT=$(field sshd .port)
export CB_EC2_URL=$(field ec2 .url) CB_EC2_KEY=$(field ec2 .accessKeyId) CB_EC2_SECRET=$(field ec2 .secretAccessKey)
export CB_OS_AUTH_URL=$(field openstack .url) CB_OS_USERNAME=demo CB_OS_PASSWORD=secret CB_OS_PROJECT=demo
export CB_GCE_URL=$(field gce .url) CB_GCE_PROJECT=demo-project CB_GCE_TOKEN=fake-access-token
export CB_EXISTING_HOST=$(addr 3)
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
echo "   EC2 $CB_EC2_URL · OpenStack $CB_OS_AUTH_URL · GCE $CB_GCE_URL · existing machine $CB_EXISTING_HOST"
echo

echo "== cloudboot boot examples/multicloud/top.conf -n $run -d $db -o $db/$run.json"
cb boot examples/multicloud/top.conf -n "$run" -d "$db" -o "$db/$run.json"
echo
echo "== cloudboot status $run -d $db"
cb status "$run" -d "$db"
echo
echo "== cloudboot history $run -d $db"
cb history "$run" -d "$db"
echo
echo "== cloudboot terminate $run -d $db"
cb terminate "$run" -d "$db"
echo
echo "== every instance the fake clouds ever had, after terminate"
# A cloud takes a moment to carry out a delete (GCE: STOPPING, then gone).
for _ in $(seq 1 20); do
  live=$(tsnode test/fakes/live-instances.ts "ec2=$CB_EC2_URL" "openstack=$CB_OS_AUTH_URL" "gce=$CB_GCE_URL")
  grep -q ' live$' <<<"$live" || break
  sleep 0.5
done
echo "$live"
if grep -q ' live$' <<<"$live"; then
  echo "run-multicloud: instances are still live" >&2
  exit 1
fi
echo "no instance is left live in any cloud"
