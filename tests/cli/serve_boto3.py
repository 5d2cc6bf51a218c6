"""boto3 (Debian's python3-boto3) against kstream-serve: the whole round trip
with byte-exact binary data, paging, resharding and errors."""
import os
import sys

import boto3
import botocore.exceptions

url, stream = sys.argv[1], sys.argv[2]
k = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test")
checks = 0


def check(cond, what):
    global checks
    assert cond, what
    checks += 1


def read_all(shard_id, iterator_type="TRIM_HORIZON", **kw):
    """Every record of a shard, following NextShardIterator to the end (or
    until an open shard returns nothing)."""
    it = k.get_shard_iterator(StreamName=stream, ShardId=shard_id,
                              ShardIteratorType=iterator_type, **kw)["ShardIterator"]
    out = []
    while it:
        r = k.get_records(ShardIterator=it, Limit=7)
        out += r["Records"]
        check(r["MillisBehindLatest"] >= 0, "MillisBehindLatest")
        if not r["Records"] and r.get("NextShardIterator"):
            break  # caught up on an open shard
        it = r.get("NextShardIterator")
        if it is None:
            return out, r.get("ChildShards", [])
    return out, None


k.create_stream(StreamName=stream, ShardCount=3)
k.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0})
d = k.describe_stream(StreamName=stream)["StreamDescription"]
check(d["StreamStatus"] == "ACTIVE" and len(d["Shards"]) == 3, "describe")
check(d["Shards"][2]["HashKeyRange"]["StartingHashKey"] ==
      "226854911280625642308916404954512140970", "3-shard ranges as in AWS")

payloads = {f"key-{i}": os.urandom(i * 37 % 2000) + bytes([0, 10, 255]) for i in range(60)}
r = k.put_record(StreamName=stream, PartitionKey="single", Data=b"\x00single\n")
check(r["ShardId"].startswith("shardId-") and int(r["SequenceNumber"]) > 0, "put_record")
r = k.put_records(StreamName=stream,
                  Records=[{"PartitionKey": key, "Data": v} for key, v in payloads.items()])
check(r["FailedRecordCount"] == 0 and len(r["Records"]) == 60, "put_records")
by_shard = {}
for res in r["Records"]:
    by_shard.setdefault(res["ShardId"], []).append(int(res["SequenceNumber"]))
for seqs in by_shard.values():
    check(seqs == sorted(seqs), "sequence numbers increase within a shard")

# ListShards pages of one with NextToken.
shards, token = [], None
while True:
    page = k.list_shards(NextToken=token) if token else k.list_shards(StreamName=stream, MaxResults=1)
    shards += page["Shards"]
    token = page.get("NextToken")
    if not token:
        break
check([s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(3)], "list_shards pages")

got = {}
for s in shards:
    recs, _ = read_all(s["ShardId"])
    for rec in recs:
        got[rec["PartitionKey"]] = rec["Data"]
check(got.pop("single") == b"\x00single\n", "put_record data")
check(got == payloads, "put_records data byte-exact")

# AT_TIMESTAMP before everything is the whole shard; AFTER_SEQUENCE_NUMBER skips one.
first = shards[0]["ShardId"]
all0, _ = read_all(first)
ts, _ = read_all(first, "AT_TIMESTAMP", Timestamp=all0[0]["ApproximateArrivalTimestamp"])
check([x["SequenceNumber"] for x in ts] == [x["SequenceNumber"] for x in all0], "AT_TIMESTAMP")
after, _ = read_all(first, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=all0[0]["SequenceNumber"])
check([x["SequenceNumber"] for x in after] == [x["SequenceNumber"] for x in all0[1:]], "AFTER_SEQUENCE_NUMBER")

# Split, merge, update-shard-count; the closed shard ends with its children.
mid = str((int(shards[0]["HashKeyRange"]["EndingHashKey"])) // 2)
k.split_shard(StreamName=stream, ShardToSplit=first, NewStartingHashKey=mid)
recs, children = read_all(first)
check(len(recs) == len(all0) and sorted(c["ShardId"] for c in children) ==
      ["shardId-000000000003", "shardId-000000000004"], "split: shard end and ChildShards")
check(all(c["ParentShards"] == [first] for c in children), "ChildShards parents")
k.merge_shards(StreamName=stream, ShardToMerge="shardId-000000000003",
               AdjacentShardToMerge="shardId-000000000004")
r = k.update_shard_count(StreamName=stream, TargetShardCount=6, ScalingType="UNIFORM_SCALING")
check(r["CurrentShardCount"] == 3 and r["TargetShardCount"] == 6, "update_shard_count")
open_shards = k.list_shards(StreamName=stream, ShardFilter={"Type": "AT_LATEST"})["Shards"]
check(len(open_shards) == 6, "6 open shards")
all_shards = k.list_shards(StreamName=stream)["Shards"]
got = {}
for s in all_shards:
    for rec in read_all(s["ShardId"])[0]:
        got[rec["PartitionKey"]] = rec["Data"]
check(len(got) == 61, "every record survives resharding")

try:
    k.describe_stream(StreamName="no-such-stream")
    check(False, "missing stream")
except k.exceptions.ResourceNotFoundException:
    check(True, "missing stream")
try:
    k.put_records(StreamName=stream, Records=[{"PartitionKey": "k", "Data": b"x"}] * 501)
    check(False, "501 records")
except botocore.exceptions.ClientError as e:
    check(e.response["Error"]["Code"] == "ValidationException", "501 records")

k.delete_stream(StreamName=stream)
check(stream not in k.list_streams()["StreamNames"], "delete_stream")
print(f"boto3: {checks} checks")
