#!/usr/bin/env bash
# Closed shards leave the stream once retention has passed since they closed
# (Kinesis stops listing expired shards): a stream resharded several times
# under a producer and a consumer group has its closed shards aged past
# retention, then `kstream describe`, ListShards over kstream-serve and the
# group's lease table stop naming them; reads of them fail as not found; a
# writer appending meanwhile and the group lose no record of a shard that
# remains.
#
# Time seam: nothing here waits 24 hours. `age_closed` moves the close time
# (closed_ms) of every shard closed so far back by 25 hours in the real
# stream.json, under the stream lock the store itself takes for metadata
# changes (FORMAT.md), as if the time had passed.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"

# age_closed STREAM: prints the ids of the shards it aged.
age_closed() {
  python3 - "$KSTREAM_HOME/streams/$1" <<'EOF'
import fcntl, json, os, sys
d = sys.argv[1]
with open(os.path.join(d, "stream.lock"), "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    path = os.path.join(d, "stream.json")
    meta = json.load(open(path))
    aged = []
    for s in meta["shards"]:
        if "closed_ms" in s:
            s["closed_ms"] -= 25 * 3600 * 1000
            aged.append("shardId-%012d" % s["index"])
    with open(path + ".aging", "w") as f:
        json.dump(meta, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(path + ".aging", path)
print(" ".join(aged))
EOF
}

# produce FIRST COUNT: JSON records {"k", "n"} for n in FIRST..FIRST+COUNT-1,
# about 2000 a second, into kstream-put (results printed to $WORK/put.FIRST).
produce() {
  python3 -c '
import sys, time
first, n = int(sys.argv[1]), int(sys.argv[2])
t0 = time.monotonic()
for i in range(n):
    d = t0 + i / 2000 - time.monotonic()
    if d > 0:
        time.sleep(d)
    sys.stdout.write("{\"k\": \"key%d\", \"n\": %d}\n" % (i % 31, first + i))
    sys.stdout.flush()
' "$1" "$2" | kstream-put ex -K k --print >"$WORK/put.$1" 2>"$WORK/put.$1.err"
}

# distinct_at_least N FILE: FILE holds N or more distinct sequence numbers.
distinct_at_least() {
  (($(python3 -c '
import json, sys
print(len({json.loads(l)["SequenceNumber"] for l in open(sys.argv[1])}))' "$2") >= $1))
}

expect_ok kstream create ex --shards 2
: >"$WORK/group.out"
kstream-get ex --group app --worker w1 -f --json --lease-timeout 2s \
  --checkpoint-interval 200ms >>"$WORK/group.out" 2>"$WORK/group.err" &
group=$!

# Phase 1: resharding under a producer; the group reads everything.
N1=6000
produce 0 "$N1" &
producer=$!
for target in 4 3 5 2; do
  sleep 0.4
  expect_ok kstream-scale ex resize "$target" -q
done
wait_exit 30 "$producer"
expect_eq 0 "$STATUS" "first producer status"
expect_empty "$WORK/put.0.err"
wait_until 30 "the group handed over all $N1 records" distinct_at_least "$N1" "$WORK/group.out"
kstream describe ex --json >"$WORK/before.json"

# Phase 2: a writer appends while the closed shards expire.
N2=4000
produce "$N1" "$N2" &
producer=$!
sleep 0.3
read -r -a aged <<<"$(age_closed ex)"
expect_ge 8 "${#aged[@]}" "shards closed by four resizes"
expect_ok kstream-scale ex resize 3 -q # closes fresh shards, which stay
kstream describe ex --json >"$WORK/after.json"
kstream describe ex >"$WORK/after.txt"
expect_py "describe lists no aged shard; fresh closed ones and lineage stay" '
import json, os, sys
before = {s["ShardId"]: s for s in json.load(open(sys.argv[1]))["StreamDescription"]["Shards"]}
after = {s["ShardId"]: s for s in json.load(open(sys.argv[2]))["StreamDescription"]["Shards"]}
aged = set(sys.argv[4:])
assert not aged & set(after), aged & set(after)
closed = [s for s in after.values() if "EndingSequenceNumber" in s["SequenceNumberRange"]]
assert closed, "the last resize closed shards that must still be listed"
# A child keeps reporting the parent that expired (Kinesis never rewrites it).
assert any(s.get("ParentShardId") in aged for s in after.values()), "lineage ids kept"
dirs = set(os.listdir(os.path.join(sys.argv[3], "streams/ex/shards")))
assert dirs == set(after), (dirs, set(after))
' "$WORK/before.json" "$WORK/after.json" "$KSTREAM_HOME" "${aged[@]}"
expect_not_contains "$WORK/after.txt" "${aged[0]}"

# Reading an expired shard: a clear not-found error.
expect_exit 1 kstream-get ex --shard "${aged[0]}"
expect_contains "$ERR" "no longer exists"
expect_contains "$ERR" "retention"

# ListShards and GetShardIterator over kstream-serve, as Kinesis answers.
if [[ -x $SYS_AWS ]]; then
  start_serve
  awsk list-shards --stream-name ex >"$WORK/list.json"
  expect_py "ListShards lists exactly what describe lists" '
import json, sys
listed = [s["ShardId"] for s in json.load(open(sys.argv[1]))["Shards"]]
described = [s["ShardId"] for s in json.load(open(sys.argv[2]))["StreamDescription"]["Shards"]]
assert sorted(listed) == sorted(described), (listed, described)
' "$WORK/list.json" "$WORK/after.json"
  run awsk get-shard-iterator --stream-name ex --shard-id "${aged[0]}" \
    --shard-iterator-type TRIM_HORIZON
  expect_ne 0 "$STATUS" "GetShardIterator on an expired shard"
  expect_contains "$ERR" "ResourceNotFoundException"
  stop_serve
else
  echo "$TEST_NAME: SKIP: ListShards over kstream-serve: $SYS_AWS is missing (scripts/deps installs Debian's awscli)" >&2
fi

wait_exit 30 "$producer"
expect_eq 0 "$STATUS" "second producer status (it wrote through the expiry)"
expect_empty "$WORK/put.$N1.err"
N=$((N1 + N2))
wait_until 30 "the group handed over all $N records" distinct_at_least "$N" "$WORK/group.out"

# The group's finished leases of expired shards are cleaned up.
no_aged_leases() {
  kstream group ex app --json >"$WORK/group.json"
  python3 -c '
import json, sys
leases = json.load(open(sys.argv[1] + "/streams/ex/groups/app/leases.json"))["leases"]
shown = json.load(open(sys.argv[2]))["Shards"]
ids = {l["leaseKey"] for l in leases} | {s["ShardId"] for s in shown}
sys.exit(1 if ids & set(sys.argv[3:]) else 0)' "$KSTREAM_HOME" "$WORK/group.json" "${aged[@]}"
}
wait_until 20 "leases of expired shards deleted" no_aged_leases
kstream groups ex >"$WORK/groups.txt"
expect_contains "$WORK/groups.txt" "app"
kill -TERM "$group"
wait_exit 10 "$group"
expect_eq 0 "$STATUS" "group worker status after SIGTERM"
expect_empty "$WORK/group.err"

# No record of a shard that remains is lost: every record put (the producers'
# results) in a listed shard is in the store and was handed to the group, and
# the group got every record put (it kept up before the shards expired).
kstream-get ex --json >"$WORK/all.json"
expect_py "every record of a remaining shard is there, and was delivered" '
import json, sys
put = [json.loads(l) for f in sys.argv[1:3] for l in open(f)]
assert len(put) == int(sys.argv[5]), len(put)
shards = {s["ShardId"] for s in json.load(open(sys.argv[3]))["StreamDescription"]["Shards"]}
stored = {json.loads(l)["SequenceNumber"] for l in open(sys.argv[4])}
delivered = {json.loads(l)["SequenceNumber"] for l in open(sys.argv[6])}
kept = [p for p in put if p["ShardId"] in shards]
assert kept, "records in remaining shards"
missing = [p for p in kept if p["SequenceNumber"] not in stored]
assert not missing, missing[:5]
assert {p["SequenceNumber"] for p in put} <= delivered
' "$WORK/put.0" "$WORK/put.$N1" "$WORK/after.json" "$WORK/all.json" "$N" "$WORK/group.out"
finish
