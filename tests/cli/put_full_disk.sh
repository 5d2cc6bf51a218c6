#!/usr/bin/env bash
# kstream-put on a disk that fills up (a small tmpfs as KSTREAM_HOME): it
# stops with a clear message and exit 1; every record it reported durable
# (--print) reads back, nothing unknown or damaged is in the store; once
# space returns, the rest goes in and the stream holds every line.
# Mounting needs root: without it this test says SKIP and checks only that
# the store works (the same faults are injected through the Env seam at
# every write point in unit.fault_matrix).
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

# Incompressible lines, about 1.6 MB in all: more than the disk holds.
python3 -c '
import base64, os
for i in range(6000):
    print("%05d-%s" % (i, base64.b64encode(os.urandom(200)).decode()))
' >"$WORK/input"
sort "$WORK/input" >"$WORK/want"

if mount_tmpfs 1m; then
  export KSTREAM_HOME="$MNT/home"
  mkdir "$KSTREAM_HOME"
  expect_ok kstream create full --shards 2

  expect_exit 1 kstream-put full --print --batch-records 100 <"$WORK/input"
  expect_contains "$ERR" "kstream-put: error:"
  expect_contains "$ERR" "No space left on device"
  acked=$(wc -l <"$OUT")
  expect_ge 100 "$acked"
  head -n "$acked" "$WORK/input" | sort >"$WORK/acked"

  # What the store holds: every acknowledged line, nothing else, no damage.
  kstream-get full >"$WORK/got" 2>"$WORK/get.err"
  expect_not_contains "$WORK/get.err" "damaged"
  sort "$WORK/got" >"$WORK/got.sorted"
  expect_eq 0 "$(comm -23 "$WORK/acked" "$WORK/got.sorted" | wc -l | tr -d ' ')" \
    "acknowledged lines lost"
  expect_eq 0 "$(comm -13 "$WORK/want" "$WORK/got.sorted" | wc -l | tr -d ' ')" \
    "lines in the store that were never put (torn records?)"

  # Space returns: the rest goes in, and the stream holds every line (lines
  # written but not acknowledged before the failure may now be there twice).
  mount -o remount,size=16m "$MNT"
  tail -n +"$((acked + 1))" "$WORK/input" | expect_ok kstream-put full
  kstream-get full | sort -u >"$WORK/all"
  expect_same_file "$WORK/want" "$WORK/all" "every line after space came back"
  expect_ge 6000 "$(kstream-get full | wc -l)"
else
  echo "cli.put_full_disk: SKIP: the full disk needs root to mount a tmpfs" \
    "(faults at every write point run in unit.fault_matrix)" >&2
  expect_ok kstream create full --shards 2
  expect_ok kstream-put full <"$WORK/input"
  kstream-get full | sort >"$WORK/all"
  expect_same_file "$WORK/want" "$WORK/all" "every line"
fi
finish
