#!/usr/bin/env bash
# kill -9 of kstream-agent at random points of a large ingest while a writer
# appends (with one rotation by rename), restarted each time: every line ends
# up in the stream, intact; a line repeats only within the stated bound (at
# most publishQueueCapacity x maxBufferSizeRecords records written but not
# yet durable per kill); the checkpoint file is always whole.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

BATCH=50                  # --max-buffer-records
QUEUE=64                  # --publish-queue-capacity
BOUND=$((QUEUE * BATCH))  # records that may repeat per kill (see kstream-agent(1))
KILLS=8
INITIAL=400000
MORE=40000

expect_ok kstream create c --shards 2
mkdir -p "$WORK/logs"
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, int(sys.argv[2]) + 1):
        f.write("line-%07d %s\n" % (i, "y" * (i % 60)))
' "$WORK/logs/app.log" "$INITIAL"

# Appends MORE lines at a bounded pace, renaming the file half way.
python3 -c '
import os, sys, time
path, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
f = open(path, "a")
for i in range(first, first + n):
    f.write("line-%07d %s\n" % (i, "y" * (i % 60)))
    if i % 500 == 0:
        f.flush()
        time.sleep(0.04)
    if i == first + n // 2:
        f.close()
        os.rename(path, path + ".1")
        f = open(path, "a")
f.close()
' "$WORK/logs/app.log" $((INITIAL + 1)) "$MORE" &
writer=$!

AGENT=(kstream-agent -f "$WORK/logs/app.log*" -s c --initial-position START_OF_FILE
  --max-buffer-records "$BATCH" --publish-queue-capacity "$QUEUE" --max-buffer-age 100ms --checkpoint-file "$WORK/cp.json")
for ((round = 1; round <= KILLS; round++)); do
  "${AGENT[@]}" >/dev/null 2>"$WORK/agent.$round.err" &
  agent=$!
  sleep "$(python3 -c 'import random; print(random.uniform(0.05, 0.35))')"
  kill -KILL "$agent"
  if [[ ${AGENT_CRASH_DEBUG:-0} == 1 ]]; then
    echo "round $round: $(count_records c) records; $(grep -o '"offset":[0-9]*' "$WORK/cp.json" | tr '\n' ' ')" >&2
  fi
  wait_exit 10 "$agent"
  expect_eq 137 "$STATUS" "round $round: killed"
  if [[ -e $WORK/cp.json ]]; then
    expect_py "round $round: checkpoint file is whole" \
      'import json, sys; json.load(open(sys.argv[1]))' "$WORK/cp.json"
  fi
done
wait_exit 60 "$writer"
expect_eq 0 "$STATUS" "writer"
expect_ok "${AGENT[@]}" --once

TOTAL=$((INITIAL + MORE))
kstream-get c >"$WORK/got"
expect_py "every line present, intact; repeats within $KILLS x $BOUND" '
import sys
total, bound = int(sys.argv[2]), int(sys.argv[3])
seen = {}
for rec in open(sys.argv[1]).read().split("\n")[:-1]:
    num, pad = rec.split(" ", 1) if " " in rec else (rec, "")
    i = int(num[5:])
    assert pad == "y" * (i % 60), "damaged record %r" % rec
    seen[i] = seen.get(i, 0) + 1
missing = [i for i in range(1, total + 1) if i not in seen]
assert not missing, "%d missing, first %s" % (len(missing), missing[:10])
assert len(seen) == total, (len(seen), total)
repeats = sum(c - 1 for c in seen.values())
if __import__("os").environ.get("AGENT_CRASH_DEBUG") == "1": print("repeats: %d" % repeats)
if __import__("os").environ.get("AGENT_CRASH_DEBUG") == "1": print("repeats: %d" % repeats, file=sys.stderr)
assert repeats <= bound, "%d repeated records > bound %d" % (repeats, bound)
' "$WORK/got" "$TOTAL" $((KILLS * BOUND))

finish
