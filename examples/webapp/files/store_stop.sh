#!/bin/sh
# Stops the store server started by store_boot.sh.
[ -f server.pid ] && kill "$(cat server.pid)" 2>/dev/null
echo "store stopped"
