#!/usr/bin/env bash
# kstream-window --stream --group: two instances split a 4-shard stream and
# every event is counted exactly once when nothing crashes; kill -9 of an
# instance mid-way (restarted) and of the other (taken over) loses no window,
# and the repeated counts come only from records after the dead instance's
# last checkpoints; KPL aggregates; a reshard while windows are open;
# arrival-time windows; SIGTERM exits 0; usage errors.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

[[ -x $KSTREAM_BIN/kstream-window ]] || fail "$KSTREAM_BIN/kstream-window is missing"

S=clicks
G=dash
WIN=(--tumbling 10s --time-field ts --group-by k)

# gen FIRST COUNT: events i = FIRST.. with ts 10 ms apart (1,000 per 10 s
# window), keys k0..k19.
gen() {
  awk -v first="$1" -v n="$2" 'BEGIN {
    for (i = first; i < first + n; i++)
      printf "{\"ts\": %.0f, \"k\": \"k%d\", \"i\": %d}\n", 1700000000000 + 10 * i, i % 20, i
  }'
}
# paced RATE: copies lines from stdin at RATE per second.
paced() {
  python3 -c '
import sys, time
rate, t0 = float(sys.argv[1]), time.monotonic()
for i, line in enumerate(sys.stdin):
    d = t0 + i / rate - time.monotonic()
    if d > 0:
        sys.stdout.flush()
        time.sleep(d)
    sys.stdout.write(line)
' "$1"
}

# counted FILES...: the sum of "count" over the output lines.
counted() {
  cat "$@" | python3 -c '
import json, sys
print(sum(json.loads(l)["count"] for l in sys.stdin))'
}
counted_at_least() {
  local n=$1
  shift
  (($(counted "$@") >= n))
}

settled() { leases_settled "$S" "$@"; }

# start NAME [FLAGS...]: an instance following the stream in the background.
start() {
  local name=$1
  shift
  kstream-window --stream "$S" --group "$G" --worker "$name" -f "${WIN[@]}" -v "$@" \
    >>"$WORK/$name.out" 2>>"$WORK/$name.err" &
  eval "pid_$name=\$!"
}
stop() {
  local pid
  pid=$(eval "echo \$pid_$1")
  kill -TERM "$pid"
  wait_exit 20 "$pid"
  expect_eq 0 "$STATUS" "$1 exits 0 on SIGTERM"
}

# check FIRST COUNT MODE FILES...: per (10 s window, key) the summed counts
# of the files against the events FIRST..FIRST+COUNT-1, exactly (MODE exact)
# or at least; no line outside those windows.
check() {
  local first=$1 count=$2 mode=$3
  shift 3
  expect_py "counts per window and key ($mode, events $first+$count)" '
import collections, datetime, json, sys
first, n, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
want = collections.Counter()
for i in range(first, first + n):
    ts = 1700000000000 + 10 * i
    start = datetime.datetime.fromtimestamp((ts - ts % 10000) / 1000, datetime.timezone.utc)
    want[(start.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "k%d" % (i % 20))] += 1
got = collections.Counter()
for path in sys.argv[4:]:
    for line in open(path):
        r = json.loads(line)
        got[(r["window_start"], r["k"])] += r["count"]
extra = set(got) - set(want)
assert not extra, ("windows without events", sorted(extra)[:3])
for cell, w in want.items():
    g = got.get(cell, 0)
    assert g >= w, ("lost", cell, g, w)
    assert mode != "exact" or g == w, ("repeated", cell, g, w)
print(sum(got.values()) - n, "repeated", file=sys.stderr)
' "$first" "$count" "$mode" "$@"
}

expect_ok kstream create "$S" --shards 4

# --- No crash: two instances settle at two shards each before the events
# come (so no steal repeats any), then split the work; SIGTERM writes the
# closed windows and checkpoints only them; a run to the end completes the
# open ones. Every event exactly once.
start a
start b
wait_until 30 "a and b hold 2 leases each" settled "$G" "a 2 b 2 "
wait_until 10 "a and b know what they hold" leases_known "$S" "$G" a b
N1=8000
expect_ok kstream-put "$S" -K k < <(gen 0 "$N1")
# The last window stays open while following (every shard idle).
wait_until 30 "the closed windows of part 1" counted_at_least $((N1 - 1000)) "$WORK/a.out" "$WORK/b.out"
expect_ne 0 "$(wc -l <"$WORK/a.out")" "a wrote windows"
expect_ne 0 "$(wc -l <"$WORK/b.out")" "b wrote windows"
stop a
stop b
expect_eq $((N1 - 1000)) "$(counted "$WORK/a.out" "$WORK/b.out")" "the open window was not written at SIGTERM"
expect_ok kstream group "$S" "$G" --json
expect_py "no owner after the stop; the open window is not checkpointed" '
import json, sys
g = json.load(open(sys.argv[1]))
assert all(s["LeaseOwner"] is None for s in g["Shards"]), g
assert 0 < g["LagRecords"] <= 1000, g["LagRecords"]
' "$OUT"
expect_ok kstream-window --stream "$S" --group "$G" "${WIN[@]}"
cp "$OUT" "$WORK/end1.out"
check 0 "$N1" exact "$WORK/a.out" "$WORK/b.out" "$WORK/end1.out"

# --- kill -9: the same two instances resume after their checkpoints; events
# arrive (as KPL aggregates) while a is killed and restarted with its id,
# then b is killed for good and a takes its shards. No window lost; repeats
# only of records after a dead instance's last checkpoints.
for w in a b; do mv "$WORK/$w.out" "$WORK/$w.part1"; mv "$WORK/$w.err" "$WORK/$w.err1"; done
start a --lease-timeout 2s
start b --lease-timeout 2s
wait_until 30 "a and b hold 2 leases each" settled "$G" "a 2 b 2 "
wait_until 10 "a and b know what they hold" leases_known "$S" "$G" a b
N2=12000
gen "$N1" "$N2" | paced 3000 | kstream-put "$S" -K k --aggregate --linger 50ms &
producer=$!
wait_until 30 "a has written windows" has_lines 20 "$WORK/a.out"
wait_until 30 "a has checkpointed" grep -q "checkpoint shardId" "$WORK/a.err"
kill -KILL "$pid_a"
wait_exit 10 "$pid_a"
cp "$WORK/a.err" "$WORK/a.dead"
start a --lease-timeout 2s
wait_until 30 "b has written windows" has_lines 60 "$WORK/b.out"
kill -KILL "$pid_b"
wait_exit 10 "$pid_b"
wait_exit 60 "$producer"
expect_eq 0 "$STATUS" "producer status"
wait_until 30 "a takes b's shards" settled "$G" "a 4 "
wait_until 30 "the closed windows of part 2" counted_at_least $((N2 - 1000)) "$WORK/a.out" "$WORK/b.out"
stop a
expect_ok kstream-window --stream "$S" --group "$G" "${WIN[@]}"
cp "$OUT" "$WORK/end2.out"
check "$N1" "$N2" at-least "$WORK/a.out" "$WORK/b.out" "$WORK/end2.out"
# Repeats only of records after the dead instances' last checkpoints.
kstream-get "$S" --json >"$WORK/all.json"
expect_py "repeated counts come from records after a dead instance's checkpoints" '
import base64, collections, datetime, json, sys
sys.path.insert(0, sys.argv[4])
from group_log import held_checkpoints
all_json, a_dead, b_dead, outs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5:]
risky = collections.Counter()  # window -> events that may count twice
dead = [held_checkpoints(a_dead), held_checkpoints(b_dead)]
want = collections.Counter()
for line in open(all_json):
    r = json.loads(line)
    e = json.loads(base64.b64decode(r["Data"]))
    if e["i"] < 8000:
        continue
    ts = e["ts"]
    w = datetime.datetime.fromtimestamp((ts - ts % 10000) / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    want[w] += 1
    for d in dead:
        if r["ShardId"] in d and int(r["SequenceNumber"]) > d[r["ShardId"]]:
            risky[w] += 1
got = collections.Counter()
for path in outs:
    for line in open(path):
        r = json.loads(line)
        got[r["window_start"]] += r["count"]
for w, n in want.items():
    assert got[w] - n <= risky[w], ("repeats beyond the dead instances checkpoints", w, got[w], n, risky[w])
' "$WORK/all.json" "$WORK/a.dead" "$WORK/b.err" "$KSTREAM_SRC/tests/cli" "$WORK/a.out" "$WORK/b.out" "$WORK/end2.out"

# --- A reshard while windows are open: the parents reach SHARD_END with
# their last window open; their checkpoints wait for it, the children follow.
N3=4000
F3=$((N1 + N2))
start c
wait_until 30 "c holds the 4 shards" settled "$G" "c 4 "
expect_ok kstream-put "$S" -K k < <(gen "$F3" 2000)
wait_until 30 "c has read the first half" counted_at_least 1000 "$WORK/c.out"
expect_ok kstream-scale "$S" resize 3
expect_ok kstream-put "$S" -K k < <(gen $((F3 + 2000)) 2000)
wait_until 30 "c reads the children" settled "$G" "c 3 "
wait_until 30 "the closed windows of part 3" counted_at_least $((N3 - 1000)) "$WORK/c.out"
stop c
expect_ok kstream-window --stream "$S" --group "$G" "${WIN[@]}"
cp "$OUT" "$WORK/end3.out"
check "$F3" "$N3" exact "$WORK/c.out" "$WORK/end3.out"
expect_ok kstream group "$S" "$G" --json
expect_py "every closed shard is at SHARD_END" '
import json, sys
g = json.load(open(sys.argv[1]))
closed = [s for s in g["Shards"] if s["State"] != "open"]
assert len(closed) >= 4 and all(s["Checkpoint"] == "SHARD_END" for s in closed), g["Shards"]
' "$OUT"

# --- Arrival time (no --time-field), a new group from TRIM_HORIZON: every
# record of the stream in exactly one window.
TOTAL=$((N1 + N2 + N3))
expect_ok kstream-window --stream "$S" --group arrivals --tumbling 1s
expect_eq "$TOTAL" "$(counted "$OUT")" "arrival-time windows hold every record once"
expect_ok kstream-window --stream "$S" --group arrivals --tumbling 1s
expect_empty "$OUT"

# Following with arrival time: a window closes by the clock, and SIGTERM
# after it leaves nothing behind.
kstream-window --stream "$S" --group live --worker live -i LATEST -f --tumbling 1s \
  --group-by k >"$WORK/live.out" 2>"$WORK/live.err" &
pid_live=$!
wait_until 30 "the live instance holds the 3 shards" settled live "live 3 "
echo '{"k":"now"}' | kstream-put "$S"
wait_until 10 "an arrival-time window closes while following" has_lines 1 "$WORK/live.out"
expect_contains "$WORK/live.out" '"k":"now","count":1}'
stop live
expect_ok kstream group "$S" live --json
expect_py "the live group is checkpointed to the end" '
import json, sys
g = json.load(open(sys.argv[1]))
assert g["LagRecords"] == 0, g
' "$OUT"

# --- Over an endpoint (kstream-serve): with and without --group, the same
# windows as from the file, nothing late across its 3 shards.
(
  # shellcheck source-path=SCRIPTDIR source=serve_lib.bash
  source "$(dirname "$0")/serve_lib.bash"
  mkdir -p "$WORK/served"
  KSTREAM_HOME="$WORK/served" start_serve
  export AWS_ACCESS_KEY_ID=AKIDKSTREAMTEST AWS_SECRET_ACCESS_KEY=kstream-test-secret
  export AWS_REGION=us-east-1 AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
  gen 0 3000 >"$WORK/ep.ndjson"
  expect_ok kstream create ep --shards 3 --endpoint "$SERVE_URL"
  expect_ok kstream-put ep -K k --endpoint "$SERVE_URL" <"$WORK/ep.ndjson"
  kstream-window "${WIN[@]}" <"$WORK/ep.ndjson" | sort >"$WORK/ep.file"
  expect_ok kstream-window --stream ep --endpoint "$SERVE_URL" "${WIN[@]}" --stats
  expect_contains "$ERR" '"late":0'
  sort "$OUT" >"$WORK/ep.plain"
  expect_same_file "$WORK/ep.file" "$WORK/ep.plain" "--stream over an endpoint"
  expect_ok kstream-window --stream ep --group g --endpoint "$SERVE_URL" "${WIN[@]}"
  sort "$OUT" >"$WORK/ep.group"
  expect_same_file "$WORK/ep.file" "$WORK/ep.group" "--stream --group over an endpoint"
  stop_serve
  echo "$CHECKS" >"$WORK/ep.checks"
)
CHECKS=$(cat "$WORK/ep.checks")

# --- Usage errors.
expect_exit 2 kstream-window --group g --tumbling 1s </dev/null
expect_contains "$ERR" "--group needs --stream"
expect_exit 2 kstream-window --stream "$S" --worker w --tumbling 1s
expect_contains "$ERR" "--worker needs --group"
expect_exit 2 kstream-window --stream "$S" --group g --lease-timeout 10ms --tumbling 1s
expect_contains "$ERR" "--lease-timeout must be at least 300ms"
expect_exit 2 kstream-window --stream "$S" --group 'bad/name' --tumbling 1s
# A group on an endpoint's stream (cli.endpoint_group): nothing listens here.
expect_exit 1 kstream-window --stream "$S" --group g --endpoint http://127.0.0.1:9 --tumbling 1s
expect_contains "$ERR" "no answer from http://127.0.0.1:9"
expect_exit 1 kstream-window --stream nope --group g --tumbling 1s
expect_contains "$ERR" "'nope' does not exist"

finish
