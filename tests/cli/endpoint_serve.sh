#!/usr/bin/env bash
# The kstream tools with --endpoint against kstream-serve: the same round
# trips as against kinesalite (AT_TIMESTAMP included), and a store served
# while the tools write through the API lands in that server's KSTREAM_HOME.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"
# shellcheck source-path=SCRIPTDIR source=endpoint_lib.bash
source "$(dirname "$0")/endpoint_lib.bash"

SERVED_HOME="$WORK/served"
mkdir -p "$SERVED_HOME"
KSTREAM_HOME=$SERVED_HOME start_serve
check_round_trips "$SERVE_URL"
# What went through the API is in the served store, readable directly.
expect_ok env KSTREAM_HOME="$SERVED_HOME" kstream list
expect_contains "$OUT" "bin"
expect_contains "$OUT" "fol"
KSTREAM_HOME="$SERVED_HOME" kstream-get fol >"$WORK/direct"
expect_eq $'f1\nf2\nf3' "$(cat "$WORK/direct")"
stop_serve
finish
