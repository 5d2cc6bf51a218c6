#!/usr/bin/env bash
# Concurrent producers into one stream: 4 kstream-put processes, each fed
# 50,000 JSON lines through a pipe, partition key from a JSON field. Every
# record must come back exactly once, in the shard its key hashes to, and in
# each shard each producer's records keep their order.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

PRODUCERS=4
PER_PRODUCER=50000

expect_ok kstream create conc --shards 4

# One generator per producer, piped straight into kstream-put. Each line:
# {"p": producer, "c": counter, "user": {"id": key}, "pad": ...}.
gen() {
  python3 -c '
import random, sys
p, n = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(p)
out = sys.stdout
for c in range(n):
    key = "user-%d" % rng.randrange(1000)
    out.write("{\"p\": %d, \"c\": %d, \"user\": {\"id\": \"%s\"}, \"pad\": \"%s\"}\n"
              % (p, c, key, "x" * rng.randrange(0, 40)))
' "$1" "$PER_PRODUCER"
}

# Different batching and durability settings, so the writes interleave in
# different ways.
opts=("" "--batch-records 64" "--sync always --batch-records 500" "--linger 0ms --batch-records 1")
pids=()
for ((p = 0; p < PRODUCERS; p++)); do
  # shellcheck disable=SC2086  # word splitting of the option string is intended
  gen "$p" | kstream-put conc -K user.id ${opts[p]} >"$WORK/put$p.out" 2>"$WORK/put$p.err" &
  pids+=("$!")
done
for ((p = 0; p < PRODUCERS; p++)); do
  wait_exit 300 "${pids[p]}"
  expect_eq 0 "$STATUS" "exit status of producer $p (${opts[p]:-defaults})"
  expect_empty "$WORK/put$p.out" "producer $p printed on stdout without --print"
  expect_empty "$WORK/put$p.err" "producer $p wrote to stderr"
done

expect_ok kstream describe conc --json
cp "$OUT" "$WORK/describe.json"
expect_ok kstream-get conc --json
cp "$OUT" "$WORK/all.json"
expect_empty "$ERR" "kstream-get wrote to stderr"
expect_lines $((PRODUCERS * PER_PRODUCER)) "$WORK/all.json"

expect_py "every record exactly once, in its key's shard, per-shard order kept" '
import base64, hashlib, json, sys
producers, per = int(sys.argv[3]), int(sys.argv[4])
desc = json.load(open(sys.argv[2]))["StreamDescription"]
ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]),
           s["ShardId"]) for s in desc["Shards"]]
def shard_of(key):
    h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
    return [sid for lo, hi, sid in ranges if lo <= h <= hi][0]
seen = set()
last_counter = {}   # (shard, producer) -> counter
last_seq = {}       # shard -> sequence number
shards_used = set()
for n, line in enumerate(open(sys.argv[1]), 1):
    r = json.loads(line)
    d = json.loads(base64.b64decode(r["Data"]))
    p, c, key, shard = d["p"], d["c"], d["user"]["id"], r["ShardId"]
    assert r["PartitionKey"] == key, ("line", n, "key", r["PartitionKey"], key)
    assert (p, c) not in seen, ("duplicate record", p, c)
    seen.add((p, c))
    assert shard == shard_of(key), ("record", p, c, "in", shard, "expected", shard_of(key))
    shards_used.add(shard)
    seq = int(r["SequenceNumber"])
    assert seq > last_seq.get(shard, 0), ("sequence numbers not increasing in", shard)
    last_seq[shard] = seq
    prev = last_counter.get((shard, p), -1)
    assert c > prev, ("producer", p, "counter", c, "after", prev, "in", shard)
    last_counter[(shard, p)] = c
missing = producers * per - len(seen)
assert missing == 0, ("missing records", missing)
assert seen == {(p, c) for p in range(producers) for c in range(per)}
assert len(shards_used) == 4, shards_used
' "$WORK/all.json" "$WORK/describe.json" "$PRODUCERS" "$PER_PRODUCER"

expect_py "describe --json Records per shard match what was read" '
import json, sys
desc = json.load(open(sys.argv[2]))["StreamDescription"]
counts, last = {}, {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    counts[r["ShardId"]] = counts.get(r["ShardId"], 0) + 1
    last[r["ShardId"]] = r["SequenceNumber"]
for s in desc["Shards"]:
    assert s["Records"] == counts.get(s["ShardId"], 0), (s["ShardId"], s["Records"], counts)
    assert s.get("LastSequenceNumber") == last.get(s["ShardId"]), s
' "$WORK/all.json" "$WORK/describe.json"

# Concurrent readers while writers run: each reader sees a prefix-consistent
# view (no duplicates, per-shard order) and a final read sees everything.
expect_ok kstream create live --shards 2
for ((p = 0; p < 2; p++)); do
  gen "$p" | kstream-put live -K user.id --batch-records 100 >/dev/null 2>"$WORK/live-put$p.err" &
  pids[p]=$!
done
for ((r = 0; r < 3; r++)); do
  expect_ok kstream-get live --json
  cp "$OUT" "$WORK/live$r.json"
  expect_py "reader $r during writes: no duplicates, per-shard producer order" '
import base64, json, sys
seen, last = set(), {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    d = json.loads(base64.b64decode(r["Data"]))
    k = (d["p"], d["c"])
    assert k not in seen, ("duplicate", k)
    seen.add(k)
    assert d["c"] > last.get((r["ShardId"], d["p"]), -1), ("out of order", k)
    last[(r["ShardId"], d["p"])] = d["c"]
' "$WORK/live$r.json"
done
for ((p = 0; p < 2; p++)); do
  wait_exit 300 "${pids[p]}"
  expect_eq 0 "$STATUS" "exit status of live producer $p"
done
expect_eq $((2 * PER_PRODUCER)) "$(count_records live)" "records in 'live' after the writers ended"

finish
