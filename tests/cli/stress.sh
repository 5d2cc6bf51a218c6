#!/usr/bin/env bash
# scripts/stress for a few seconds: producers, group workers (one killed
# with -9 now and then), a follower and reshards every second on one stream;
# nothing acknowledged is lost, the follower sees each record exactly once.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

if "$KSTREAM_SRC/scripts/stress" --seconds "${KSTREAM_STRESS_SECONDS:-6}" >"$WORK/table" 2>"$WORK/err"; then
  pass
else
  fail "scripts/stress found lost or duplicated records" "$(cat "$WORK/table" "$WORK/err")"
fi
cat "$WORK/table" >&2
expect_contains "$WORK/table" "follower: lost / duplicated / never sent | 0 / 0 / 0"
finish
