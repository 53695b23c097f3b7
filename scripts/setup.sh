#!/usr/bin/env bash
# Installs everything cloudboot's tests and examples need on a fresh
# Debian/Ubuntu machine with Node 20: pnpm (the version pinned in
# package.json), OpenSSH's server (the test "machines"; skipped with
# --no-ssh, the examples don't need it), tmux and headless Chromium (the
# tests of live progress in a terminal and of the HTML report), Perl (the
# helper that starts local programs; essential on Debian, so normally there)
# — as root only: without them those tests are skipped, except under CI —
# and the workspace's dependencies.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
with_ssh=1
[ "${1:-}" = "--no-ssh" ] && with_ssh=0

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: $1 is missing and installing it needs root; install it and run again." >&2
    exit 1
  fi
}

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$(node -p 'require("./package.json").packageManager.split("@")[1]')" ]; then
  echo "setup: installing $(node -p 'require("./package.json").packageManager')"
  npm install -g --silent "$(node -p 'require("./package.json").packageManager')"
fi

if [ "$with_ssh" = 1 ] && { [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null 2>&1; }; then
  need_root "the Debian package openssh-server (sshd, used as the SSH test machines)"
  echo "setup: installing openssh-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null
fi

test_tools=()
command -v tmux >/dev/null 2>&1 || test_tools+=(tmux)
[ -x /usr/bin/chromium ] || test_tools+=(chromium)
command -v perl >/dev/null 2>&1 || test_tools+=(perl-base)
if [ "${#test_tools[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${test_tools[*]} (for the terminal, browser and local-helper tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${test_tools[@]}" >/dev/null
  else
    echo "setup: ${test_tools[*]} not installed (needs root): the tests that use them are skipped" >&2
  fi
fi

pnpm install --frozen-lockfile
