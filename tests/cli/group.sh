#!/usr/bin/env bash
# kstream-get --group: three workers settle at two leases each on six shards;
# a worker killed with -9 has its shards taken over; every record comes out,
# repeated only after the dead worker's last checkpoints; a stopped group
# resumes after its checkpoints; kstream groups / group show, reset, delete.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

TIMEOUT=2s  # --lease-timeout: failover within about this


# all_out N FILES...: the files hold at least N distinct records together.
all_out() {
  local n=$1
  shift
  (($(cat "$@" | sort -u | wc -l) >= n))
}

# gen FIRST COUNT [RATE]: JSON lines {"k": "key<i % 40>", "n": i} for i from
# FIRST, at RATE per second (default: at once).
gen() {
  python3 -c '
import sys, time
first, n, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
t0 = time.monotonic()
for i in range(first, first + n):
    d = t0 + (i - first) / rate - time.monotonic()
    if d > 0:
        time.sleep(d)
    sys.stdout.write("{\"k\": \"key%d\", \"n\": %d}\n" % (i % 40, i))
    if rate < 1e9:
        sys.stdout.flush()
' "$1" "$2" "${3:-1e12}"
}

expect_ok kstream create six --shards 6

# --- Three workers settle at two leases each (records come only afterwards,
# so no steal between live workers can repeat one).
for w in w1 w2 w3; do
  kstream-get six --group app --worker "$w" -f --json --lease-timeout "$TIMEOUT" \
    --checkpoint-interval 200ms -v >"$WORK/$w.out" 2>"$WORK/$w.err" &
  eval "pid_$w=\$!"
done
wait_until 30 "3 workers hold 2 leases each" leases_settled six app "w1 2 w2 2 w3 2 "
wait_until 10 "every worker knows what it holds" leases_known six app w1 w2 w3
expect_ok kstream groups six
expect_eq app "$(cat "$OUT")" "kstream groups"

# --- Records flow while w2 is killed with -9: its shards go to w1 and w3.
N=6000
gen 0 "$N" 3000 | kstream-put six -K k &
producer=$!
wait_until 20 "w2 has printed records" has_lines 500 "$WORK/w2.out"
wait_until 20 "w2 has checkpointed" grep -q "checkpoint shardId" "$WORK/w2.err"
kill -KILL "$pid_w2"
wait_exit 10 "$pid_w2"
wait_until 15 "w1 and w3 take w2's leases" leases_settled six app "w1 3 w3 3 "
wait_exit 30 "$producer"
expect_eq 0 "$STATUS" "producer status"
wait_until 30 "all $N records printed" all_out "$N" "$WORK/w1.out" "$WORK/w2.out" "$WORK/w3.out"
expect_py "every record once, but for w2's shards after its last checkpoint" '
import collections, json, sys
sys.path.insert(0, sys.argv[6])
from group_log import held_checkpoints
w1, w2, w3, w2err, n = sys.argv[1:6]
recs = collections.defaultdict(list)  # (shard, seq) -> [worker]
for name, path in (("w1", w1), ("w2", w2), ("w3", w3)):
    for line in open(path):
        r = json.loads(line)
        recs[(r["ShardId"], int(r["SequenceNumber"]))].append(name)
assert len(recs) == int(n), ("distinct records", len(recs), n)
last = held_checkpoints(w2err)  # the dead worker s shards and last checkpoints
dups = {k: v for k, v in recs.items() if len(v) > 1}
for (shard, seq), who in dups.items():
    assert shard in last, ("repeated record of a shard w2 did not hold at its death", shard, seq, who)
    assert seq > last[shard], ("repeated at or before w2 s checkpoint", shard, seq, last[shard])
print(len(dups), "repeated", file=sys.stderr)
' "$WORK/w1.out" "$WORK/w2.out" "$WORK/w3.out" "$WORK/w2.err" "$N" "$KSTREAM_SRC/tests/cli"

# --- SIGTERM: the batch in hand, checkpoints, leases released, status 0.
for pid in "$pid_w1" "$pid_w3"; do
  kill -TERM "$pid"
  wait_exit 10 "$pid"
  expect_eq 0 "$STATUS" "worker status after SIGTERM"
done
expect_ok kstream group six app --json
expect_py "after a clean stop: no owner, nothing left to read" '
import json, sys
g = json.load(open(sys.argv[1]))
assert g["Workers"] == [] and g["LagRecords"] == 0, g
assert all(s["LeaseOwner"] is None and s["Checkpoint"].isdigit() for s in g["Shards"]), g
' "$OUT"

# --- A restart resumes after the checkpoints: only the new records, once.
expect_ok kstream-put six -K k < <(gen "$N" 500)
expect_ok kstream-get six --group app
expect_py "the restart printed exactly the 500 new records" '
import json, sys
ns = sorted(json.loads(l)["n"] for l in open(sys.argv[1]))
assert ns == list(range(int(sys.argv[2]), int(sys.argv[2]) + 500)), (len(ns), ns[:3])
' "$OUT" "$N"
expect_ok kstream-get six --group app
expect_empty "$OUT" "a second run has nothing left"
# A limit stops early; the next run goes on without gap or repeat.
expect_ok kstream-put six -K k < <(gen $((N + 500)) 300)
expect_ok kstream-get six --group app -n 120
cp "$OUT" "$WORK/part1"
expect_lines 120 "$WORK/part1"
expect_ok kstream-get six --group app
expect_lines 180 "$OUT"
expect_eq 300 "$(cat "$WORK/part1" "$OUT" | sort -u | wc -l)" "records over both runs, distinct"

# --- kstream group: table, reset, delete; refused while a worker is live.
expect_ok kstream group six app
expect_contains "$OUT" "Workers:    0 live"
expect_contains "$OUT" "shardId-000000000005"
kstream-get six --group app --worker busy -f --lease-timeout 30s >/dev/null 2>&1 &
busy=$!
wait_until 10 "busy holds every lease" leases_settled six app "busy 6 "
expect_exit 1 kstream group six app --reset
expect_contains "$ERR" "live workers (busy)"
expect_exit 1 kstream group six app --delete
kill -TERM "$busy"
wait_exit 10 "$busy"
expect_ok kstream group six app --reset --iterator LATEST
expect_ok kstream-get six --group app
expect_empty "$OUT" "nothing before a reset to LATEST"
expect_ok kstream group six app --reset
expect_ok kstream-get six --group app
expect_eq $((N + 800)) "$(wc -l <"$OUT")" "records after a reset to TRIM_HORIZON"
expect_ok kstream group six app --delete
expect_ok kstream groups six
expect_empty "$OUT" "groups after --delete"
expect_exit 1 kstream group six app
expect_contains "$ERR" "consumer group 'app' does not exist on stream 'six'"

# --- Usage errors (exit 2) and missing things (exit 1).
expect_exit 2 kstream-get six --exec cat
expect_contains "$ERR" "--exec needs --group"
expect_exit 2 kstream-get six --group g --shard 1
expect_exit 2 kstream-get six --group g --ordered
expect_exit 2 kstream-get six --group g --batch-size 10
expect_exit 2 kstream-get six --group g -i AT_SEQUENCE_NUMBER --sequence-number 18446744073709551617
expect_exit 2 kstream-get six --group 'bad/name'
expect_exit 2 kstream-get six --group g --lease-timeout 10ms
expect_exit 2 kstream group six g --iterator LATEST
expect_exit 1 kstream-get nosuch --group g
expect_contains "$ERR" "stream 'nosuch' does not exist"
expect_exit 1 kstream groups nosuch

finish
