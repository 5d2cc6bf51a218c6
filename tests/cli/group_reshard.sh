#!/usr/bin/env bash
# kstream-get --group across resharding: two workers follow a stream while
# kstream-scale splits and merges it under a producer; children are only read
# after their parents are checkpointed at SHARD_END, so per key the records
# come out in put order, and every record comes out.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

expect_ok kstream create rs --shards 2
# Both workers append to one file: each flush is one write(2) of whole
# records, so the file's order is the order records were handed over.
: >"$WORK/out"
for w in a b; do
  kstream-get rs --group app --worker "$w" -f --json --lease-timeout 2s \
    --checkpoint-interval 200ms >>"$WORK/out" 2>"$WORK/$w.err" &
  eval "pid_$w=\$!"
done

N=9000
python3 -c '
import sys, time
n = int(sys.argv[1])
t0 = time.monotonic()
for i in range(n):
    d = t0 + i / 3000 - time.monotonic()
    if d > 0:
        time.sleep(d)
    sys.stdout.write("{\"k\": \"key%d\", \"n\": %d}\n" % (i % 25, i))
    sys.stdout.flush()
' "$N" | kstream-put rs -K k &
producer=$!
for target in 4 3 6 2; do
  sleep 0.5
  expect_ok kstream-scale rs resize "$target" -q
done
wait_exit 30 "$producer"
expect_eq 0 "$STATUS" "producer status"

distinct() { (($(python3 -c '
import json, sys
print(len({json.loads(l)["SequenceNumber"] for l in open(sys.argv[1])}))' "$WORK/out") >= N)); }
wait_until 30 "all $N records handed over" distinct
for pid in "$pid_a" "$pid_b"; do
  kill -TERM "$pid"
  wait_exit 10 "$pid"
  expect_eq 0 "$STATUS" "worker status after SIGTERM"
done
expect_empty "$WORK/a.err"
expect_empty "$WORK/b.err"
expect_py "per key, first deliveries in put order; every record out" '
import base64, json, sys
last, seen = {}, set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["SequenceNumber"] in seen:
        continue  # a repeat after a lease moved between live workers
    seen.add(r["SequenceNumber"])
    d = json.loads(base64.b64decode(r["Data"]))
    assert d["n"] > last.get(d["k"], -1), ("out of order", d, last.get(d["k"]))
    last[d["k"]] = d["n"]
assert len(seen) == int(sys.argv[2]), (len(seen), sys.argv[2])
' "$WORK/out" "$N"
expect_ok kstream group rs app --json
expect_py "closed shards at SHARD_END, open ones caught up" '
import json, sys
g = json.load(open(sys.argv[1]))
assert len(g["Shards"]) > 2, g
for s in g["Shards"]:
    assert (s["Checkpoint"] == "SHARD_END") == (s["State"] == "closed"), s
    assert s["LagRecords"] == 0 and s["LeaseOwner"] is None, s
' "$OUT"

finish
