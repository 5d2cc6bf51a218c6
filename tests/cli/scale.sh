#!/usr/bin/env bash
# kstream-scale: resharding under live traffic, a resharder killed mid-way,
# bad requests that must leave the stream unchanged, dry runs, JSON, and the
# autoscaler deciding from the load in the store.
source "$(dirname "$0")/lib.bash"

# Checks the shard map of stream $1: open shards tile the hash space, each
# child has at most a parent and an adjacent parent, all of them closed.
check_map() {
  kstream describe "$1" --json >"$WORK/map.json"
  expect_py "shard map of $1 is consistent" '
import json, sys
d = json.load(open(sys.argv[1]))["StreamDescription"]
shards = {s["ShardId"]: s for s in d["Shards"]}
open_ = sorted((int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
               for s in d["Shards"] if "EndingSequenceNumber" not in s["SequenceNumberRange"])
assert open_, "no open shard"
assert open_[0][0] == 0 and open_[-1][1] == 2**128 - 1, open_
for (a, b), (c, _) in zip(open_, open_[1:]):
    assert b + 1 == c, ("gap or overlap", b, c)
for s in d["Shards"]:
    for p in ("ParentShardId", "AdjacentParentShardId"):
        if p in s:
            parent = shards[s[p]]
            assert "EndingSequenceNumber" in parent["SequenceNumberRange"], (s["ShardId"], "open parent")
            assert int(s["SequenceNumberRange"]["StartingSequenceNumber"]) > \
                   int(parent["SequenceNumberRange"]["EndingSequenceNumber"])
' "$WORK/map.json"
}

open_shards() {
  kstream describe "$1" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["StreamDescription"]
print(sum("EndingSequenceNumber" not in s["SequenceNumberRange"] for s in d["Shards"]))'
}

# Every record of producer output exactly once, and per key in put order.
check_records() {
  local file=$1 expected=$2
  expect_py "every record exactly once, per key in order ($file)" '
import json, sys
seen, last = set(), {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert (r["k"], r["n"]) not in seen, ("duplicate", r)
    seen.add((r["k"], r["n"]))
    assert r["n"] > last.get(r["k"], -1), ("out of order for key", r["k"], last[r["k"]], r["n"])
    last[r["k"]] = r["n"]
assert len(seen) == int(sys.argv[2]), ("records", len(seen), "expected", sys.argv[2])
' "$file" "$expected"
}

# --- Live traffic: a producer and a follower keep running through 10 reshards.
expect_ok kstream create live --shards 2
N=40000
python3 -c '
import sys, time
n = int(sys.argv[1])
for i in range(n):
    sys.stdout.write("{\"k\":\"key%d\",\"n\":%d}\n" % (i % 50, i))
    if i % 200 == 0:
        sys.stdout.flush(); time.sleep(0.01)
' "$N" | kstream-put live -K k --sync never 2>"$WORK/put.err" &
producer=$!
kstream-get live --follow >"$WORK/follow.out" 2>"$WORK/follow.err" &
follower=$!
for action in "up --count 1" "resize 4" "split 0" "merge 7 8" "down --pct 50" \
              "resize 6" "up --pct 100" "resize 3" "down --count 1" "resize 5"; do
  # shellcheck disable=SC2086
  if [[ $action == "split 0" || $action == "merge 7 8" ]]; then
    # Name open shards at the time: the first open one, or two adjacent ones.
    ids=$(kstream-scale live report --json | python3 -c '
import json, sys
s = json.load(sys.stdin)["Shards"]
print(s[0]["ShardId"] if sys.argv[1] == "split" else s[0]["ShardId"] + " " + s[1]["ShardId"])' "${action%% *}")
    action="${action%% *} $ids"
  fi
  # shellcheck disable=SC2086
  expect_ok kstream-scale live $action
  check_map live
  sleep 0.1
done
wait_exit 120 "$producer"
expect_eq 0 "$STATUS" "producer exit status"
expect_eq 5 "$(open_shards live)" "open shards after the last resize"
kstream-get live >"$WORK/all.out"
check_records "$WORK/all.out" "$N"
wait_until 20 "the follower to see every record" has_lines "$N" "$WORK/follow.out"
kill -TERM "$follower"
wait_exit 10 "$follower"
expect_eq 0 "$STATUS" "follower exit status"
check_records "$WORK/follow.out" "$N"

# --- A resharder killed with -9 in the middle of a resize: the store stays
# consistent, the next command finishes or continues, nothing is lost.
expect_ok kstream create crash --shards 1
python3 -c 'for i in range(5000): print("{\"k\":\"c%d\",\"n\":%d}" % (i % 10, i))' >"$WORK/crash.in"
expect_ok kstream-put crash -K k <"$WORK/crash.in"
for delay in 0.005 0.01 0.02 0.03 0.05; do
  kstream-scale crash resize 64 &
  scaler=$!
  sleep "$delay"
  kill -KILL "$scaler" 2>/dev/null || true
  wait "$scaler" 2>/dev/null || true
  check_map crash
  expect_ok kstream-put crash -K k <<<'{"k":"c1","n":100000}'
  expect_ok kstream-scale crash resize 1
  check_map crash
done
expect_eq 5005 "$(count_records crash)" "records after the killed resizes"

# --- Bad requests get a clear error and leave the stream unchanged.
expect_ok kstream create bad --shards 3
kstream describe bad --json >"$WORK/bad.before"
expect_exit 1 kstream-scale bad merge 0 2
expect_contains "$ERR" "not adjacent"
expect_exit 1 kstream-scale bad split 9
expect_contains "$ERR" "does not exist"
expect_exit 1 kstream-scale bad split 0 --at 0
expect_contains "$ERR" "cannot split"
expect_exit 1 kstream-scale bad split 0 --at 113427455640312821154458202477256070484
expect_exit 2 kstream-scale bad resize 0
expect_exit 2 kstream-scale bad resize 9 --max-shards 8
expect_exit 2 kstream-scale bad up --pct 0
expect_exit 2 kstream-scale bad up
expect_exit 2 kstream-scale bad down --count 1 --pct 10
expect_exit 2 kstream-scale bad sideways
expect_exit 1 kstream-scale nosuch up --count 1
expect_contains "$ERR" "does not exist"
kstream describe bad --json >"$WORK/bad.after"
expect_same_file "$WORK/bad.before" "$WORK/bad.after" "describe after refused requests"
expect_ok kstream-scale bad merge 0 1
expect_exit 1 kstream-scale bad merge 0 3
expect_contains "$ERR" "closed"

# --- Dry runs change nothing; --json shows before, after and the operations.
expect_ok kstream create plan --shards 2
kstream describe plan --json >"$WORK/plan.before"
expect_ok kstream-scale plan resize 5 --dry-run
expect_contains "$OUT" "would split"
expect_contains "$OUT" "dry run"
kstream describe plan --json >"$WORK/plan.after"
expect_same_file "$WORK/plan.before" "$WORK/plan.after" "describe after a dry run"
expect_ok kstream-scale plan up --pct 100 --json
cp "$OUT" "$WORK/plan.json"
expect_py "--json has Before, After and Operations" '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["Before"]) == 2 and len(d["After"]) == 4, d
assert [o["Action"] for o in d["Operations"]] == ["SplitShard", "SplitShard"], d["Operations"]
assert all(len(o["ChildShardIds"]) == 2 for o in d["Operations"])
' "$WORK/plan.json"
expect_ok kstream-scale plan --scaling-action scaleDown --count 3
expect_contains "$OUT" "4 -> 1 open shard "
expect_ok kstream-scale plan --scaling-action resize --count 2
expect_eq 2 "$(open_shards plan)" "open shards after --scaling-action resize"
expect_ok kstream-scale plan up --count 6 --max-shards 4
expect_eq 4 "$(open_shards plan)" "--max-shards caps a scale-up"
expect_ok kstream-scale plan up --count 1 --max-shards 2
expect_eq 4 "$(open_shards plan)" "--max-shards below the count does not make up shrink"
expect_ok kstream-scale plan down --count 1 --min-shards 6
expect_eq 4 "$(open_shards plan)" "--min-shards above the count does not make down grow"

# --- Autoscaling, once: a new stream waits for a full window; then an idle
# stream shrinks and a flooded one grows; limits never reverse a move.
expect_ok kstream create auto --shards 4
expect_ok kstream-scale auto auto --once --period 2s --sample 1s --cool-off 0s
expect_contains "$ERR" "younger than"
expect_eq 4 "$(open_shards auto)" "a new stream is not judged before a full window"
sleep 2.5
expect_ok kstream-scale auto auto --once --period 2s --sample 1s --cool-off 0s
expect_contains "$ERR" "scale down to 2"
expect_eq 2 "$(open_shards auto)" "open shards after an idle autoscale"
seq 1 30000 | kstream-put auto
expect_ok kstream-scale auto auto --once --period 2s --sample 2s --cool-off 0s
expect_contains "$ERR" "scale up to 4"
expect_eq 4 "$(open_shards auto)" "open shards after a flooded autoscale"
expect_ok kstream-scale auto auto --once --period 2s --sample 2s --cool-off 1h
expect_contains "$ERR" "cooling off"

finish
