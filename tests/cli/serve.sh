#!/usr/bin/env bash
# kstream-serve with the AWS CLI (Debian's v2): create, describe, put-record,
# put-records, get-shard-iterator, get-records, list-shards, split, merge,
# update-shard-count, tags, retention, delete, with byte-exact data; bad
# requests answered with the service's errors while the server keeps serving;
# SIGTERM ends it cleanly.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"

if [[ ! -x $SYS_AWS ]]; then
  echo "$TEST_NAME: SKIP: $SYS_AWS is missing (scripts/deps installs Debian's awscli)" >&2
  finish
fi

start_serve --access-log "$WORK/access.log"

# jq-free JSON field access: json FILE EXPR (EXPR in Python over `d`).
json() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

expect_ok awsk create-stream --stream-name cli --shard-count 2
expect_ok awsk list-streams
expect_eq "['cli']" "$(json "$OUT" 'd["StreamNames"]')" "list-streams"
expect_ok awsk describe-stream --stream-name cli
expect_eq "ACTIVE 2 24" "$(json "$OUT" '" ".join(map(str, [d["StreamDescription"]["StreamStatus"], len(d["StreamDescription"]["Shards"]), d["StreamDescription"]["RetentionPeriodHours"]]))')" "describe-stream"
expect_eq "170141183460469231731687303715884105727" \
  "$(json "$OUT" 'd["StreamDescription"]["Shards"][0]["HashKeyRange"]["EndingHashKey"]')" "shard 0 range"

# Byte-exact: 3 KiB of random bytes (NULs, newlines, 0xff...) through put-record.
head -c 3072 /dev/urandom >"$WORK/blob.bin"
base64 -w0 "$WORK/blob.bin" >"$WORK/blob.b64"
expect_ok awsk put-record --stream-name cli --partition-key blob --data "$(cat "$WORK/blob.b64")"
blob_shard=$(json "$OUT" 'd["ShardId"]')
blob_seq=$(json "$OUT" 'd["SequenceNumber"]')

# put-records: 20 records with known keys, one with an explicit hash key.
python3 -c '
import base64, json
recs = [{"PartitionKey": "key-%d" % i, "Data": base64.b64encode(b"rec-%d\n\x00\xff" % i).decode()} for i in range(20)]
recs.append({"PartitionKey": "pinned", "Data": base64.b64encode(b"low").decode(), "ExplicitHashKey": "7"})
json.dump(recs, open("'"$WORK"'/records.json", "w"))'
expect_ok awsk put-records --stream-name cli --records "file://$WORK/records.json"
expect_eq 0 "$(json "$OUT" 'd["FailedRecordCount"]')" "FailedRecordCount"
expect_eq 21 "$(json "$OUT" 'len(d["Records"])')" "one result per record"
expect_eq shardId-000000000000 "$(json "$OUT" 'd["Records"][20]["ShardId"]')" "explicit hash key 7 routes to shard 0"

# The same records through the local store: the server writes the real store.
expect_ok kstream-get cli --json
expect_lines 22 "$OUT"

# get-shard-iterator + get-records: every record back, byte for byte.
read_shard() {  # read_shard SHARD TYPE [SEQ] -> records JSON in $WORK/got.json
  local args=(--stream-name cli --shard-id "$1" --shard-iterator-type "$2")
  [[ -n ${3:-} ]] && args+=(--starting-sequence-number "$3")
  expect_ok awsk get-shard-iterator "${args[@]}"
  local it
  it=$(json "$OUT" 'd["ShardIterator"]')
  expect_ok awsk get-records --shard-iterator "$it"
  cp "$OUT" "$WORK/got.json"
}
read_shard "$blob_shard" AT_SEQUENCE_NUMBER "$blob_seq"
json "$WORK/got.json" 'd["Records"][0]["Data"]' | base64 -d >"$WORK/blob.out"
expect_same_file "$WORK/blob.bin" "$WORK/blob.out" "blob read back through get-records"
expect_eq blob "$(json "$WORK/got.json" 'd["Records"][0]["PartitionKey"]')" "partition key"
expect_ne None "$(json "$WORK/got.json" 'd.get("NextShardIterator")')" "an open shard always has a next iterator"

read_shard shardId-000000000000 TRIM_HORIZON
read_shard shardId-000000000001 TRIM_HORIZON
cp "$WORK/got.json" "$WORK/got1.json"
read_shard shardId-000000000000 TRIM_HORIZON
expect_py "put-records data read back byte-exact from both shards" '
import base64, json, sys
got = {}
for f in sys.argv[1:3]:
    for r in json.load(open(f))["Records"]:
        got[r["PartitionKey"]] = base64.b64decode(r["Data"])
for i in range(20):
    assert got["key-%d" % i] == b"rec-%d\n\x00\xff" % i, i
assert got["pinned"] == b"low"
' "$WORK/got.json" "$WORK/got1.json"

# LATEST sees only what comes after it.
expect_ok awsk get-shard-iterator --stream-name cli --shard-id shardId-000000000000 --shard-iterator-type LATEST
latest=$(json "$OUT" 'd["ShardIterator"]')
expect_ok awsk put-record --stream-name cli --partition-key pinned --explicit-hash-key 7 --data "$(printf after | base64)"
expect_ok awsk get-records --shard-iterator "$latest"
expect_eq "['YWZ0ZXI=']" "$(json "$OUT" '[r["Data"] for r in d["Records"]]')" "LATEST"

# Resharding: split shard 0, merge the children back, update-shard-count.
expect_ok awsk split-shard --stream-name cli --shard-to-split shardId-000000000000 \
  --new-starting-hash-key 85070591730234615865843651857942052864
expect_ok awsk list-shards --stream-name cli
expect_eq "4 ['shardId-000000000000']" "$(json "$OUT" '" ".join(map(str, [len(d["Shards"]), [s["ShardId"] for s in d["Shards"] if "EndingSequenceNumber" in s["SequenceNumberRange"]]]))')" "split closes the parent"
expect_ok awsk merge-shards --stream-name cli --shard-to-merge shardId-000000000002 --adjacent-shard-to-merge shardId-000000000003
expect_ok awsk list-shards --stream-name cli --shard-filter Type=AT_LATEST
expect_eq "['shardId-000000000001', 'shardId-000000000004']" "$(json "$OUT" 'sorted(s["ShardId"] for s in d["Shards"])')" "open shards after the merge"
expect_eq "shardId-000000000002 shardId-000000000003" "$(json "$OUT" '" ".join(s.get("ParentShardId", "") + " " + s.get("AdjacentParentShardId", "") for s in d["Shards"] if s["ShardId"] == "shardId-000000000004")')" "merge lineage"

# The end of the closed parent: its records, then no next iterator and the
# children (in the same answer here: everything fits in one call).
read_shard shardId-000000000000 TRIM_HORIZON
expect_eq "None shardId-000000000002 shardId-000000000003 True" \
  "$(json "$WORK/got.json" '" ".join(map(str, [d.get("NextShardIterator")] + sorted(c["ShardId"] for c in d["ChildShards"]) + [len(d["Records"]) > 5]))')" "shard end"
read_shard shardId-000000000000 AT_SEQUENCE_NUMBER "$(json "$WORK/got.json" 'd["Records"][-1]["SequenceNumber"]')"
expect_eq "None 1" "$(json "$WORK/got.json" '" ".join(map(str, [d.get("NextShardIterator"), len(d["Records"])]))')" "shard end from the last record"

expect_ok awsk update-shard-count --stream-name cli --target-shard-count 4 --scaling-type UNIFORM_SCALING
expect_eq "2 4" "$(json "$OUT" '" ".join(map(str, [d["CurrentShardCount"], d["TargetShardCount"]]))')" "update-shard-count answer"
expect_ok awsk describe-stream-summary --stream-name cli
expect_eq 4 "$(json "$OUT" 'd["StreamDescriptionSummary"]["OpenShardCount"]')" "open shards after update-shard-count"
expect_exit 254 awsk update-shard-count --stream-name cli --target-shard-count 9 --scaling-type UNIFORM_SCALING
expect_contains "$ERR" LimitExceededException
# Every record is still there, through the store.
expect_ok kstream-get cli --json
expect_lines 23 "$OUT"

# Tags and retention.
expect_ok awsk add-tags-to-stream --stream-name cli --tags team=data,env=test
expect_ok awsk remove-tags-from-stream --stream-name cli --tag-keys env
expect_ok awsk list-tags-for-stream --stream-name cli
expect_eq "[{'Key': 'team', 'Value': 'data'}] False" "$(json "$OUT" '" ".join(map(str, [d["Tags"], d["HasMoreTags"]]))')" "tags"
expect_ok awsk increase-stream-retention-period --stream-name cli --retention-period-hours 48
expect_ok kstream describe cli
expect_contains "$OUT" 48

# Errors the CLI reports (it exits 254 on a service error).
expect_exit 254 awsk describe-stream --stream-name missing
expect_contains "$ERR" ResourceNotFoundException
expect_exit 254 awsk decrease-stream-retention-period --stream-name cli --retention-period-hours 72
expect_contains "$ERR" InvalidArgumentException

# Raw bad requests: the service's errors, and the server keeps serving.
expect_ok awsk create-stream --stream-name bad --shard-count 1
expect_ok python3 "$KSTREAM_SRC/tests/cli/serve_bad_requests.py" "$SERVE_URL" bad

expect_ok awsk delete-stream --stream-name cli
expect_ok awsk list-streams
expect_eq "['bad']" "$(json "$OUT" 'd["StreamNames"]')" "delete-stream"
expect_exit 1 kstream describe cli

# One access-log line per request.
expect_contains "$WORK/access.log" " PutRecords 200 - "
expect_contains "$WORK/access.log" " DescribeStream 400 ResourceNotFoundException "

stop_serve
finish
