#!/bin/sh
# Records which leased host this worker got.
. ./bootenv.sh
printf '{"leased_host": "%s"}\n' "$(hostname)" > bootout.json
