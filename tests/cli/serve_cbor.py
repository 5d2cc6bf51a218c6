"""CBOR requests shaped as the AWS SDK for Java sends them (Jackson's CBOR
generator: indefinite-length maps and arrays, blobs as byte strings,
timestamps as tag 1 over epoch milliseconds), built with Debian's
python3-cbor2, for PutRecords, GetShardIterator and GetRecords. Answers must
be CBOR the Java SDK reads: byte strings for Data, tag 1 + integer
milliseconds for ApproximateArrivalTimestamp."""
import io
import os
import sys
import time

import cbor2
import cbor2.decoder

from serve_client import CBOR_TYPE, TARGET, Conn

# Keep tag 1 visible as a CBORTag instead of cbor2's seconds-based datetime.
cbor2.decoder.semantic_decoders.pop(1, None)

conn = Conn(sys.argv[1])
stream = sys.argv[2]  # exists, 2 shards
checks = 0


def check(cond, what):
    global checks
    assert cond, what
    checks += 1


def java_cbor(v):
    if isinstance(v, dict):
        return b"\xbf" + b"".join(java_cbor(k) + java_cbor(x) for k, x in v.items()) + b"\xff"
    if isinstance(v, list):
        return b"\x9f" + b"".join(java_cbor(x) for x in v) + b"\xff"
    return cbor2.dumps(v)


def call(op, request):
    status, headers, body = conn.raw(TARGET + op, java_cbor(request), CBOR_TYPE)
    check(headers.get("Content-Type") == CBOR_TYPE, f"{op} answers in CBOR")
    doc = cbor2.decoder.CBORDecoder(io.BytesIO(body)).decode() if body else None
    return status, doc


payloads = [os.urandom(n) for n in (0 + 1, 100, 1000, 65536)] + [b"\x00\n\xff text"]
status, r = call("PutRecords", {"Records": [
    {"Data": p, "PartitionKey": f"pk-{i}"} for i, p in enumerate(payloads)], "StreamName": stream})
check(status == 200 and r["FailedRecordCount"] == 0 and len(r["Records"]) == 5, ("PutRecords", r))

got = {}
for shard in ("shardId-000000000000", "shardId-000000000001"):
    status, it = call("GetShardIterator", {"StreamName": stream, "ShardId": shard,
                                           "ShardIteratorType": "AT_TIMESTAMP",
                                           "Timestamp": cbor2.CBORTag(1, int(time.time() * 1000) - 60000)})
    check(status == 200 and isinstance(it["ShardIterator"], str), ("GetShardIterator", it))
    status, recs = call("GetRecords", {"ShardIterator": it["ShardIterator"], "Limit": 100})
    check(status == 200, ("GetRecords", recs))
    for rec in recs["Records"]:
        check(isinstance(rec["Data"], bytes), "Data is a CBOR byte string")
        ts = rec["ApproximateArrivalTimestamp"]
        check(getattr(ts, "tag", None) == 1 and isinstance(ts.value, int)
              and abs(ts.value - time.time() * 1000) < 600000, ("timestamp is tag 1 + ms", ts))
        got[rec["PartitionKey"]] = rec["Data"]
    check(isinstance(recs["MillisBehindLatest"], int), "MillisBehindLatest")
    check(isinstance(recs["NextShardIterator"], str), "NextShardIterator")
check(got == {f"pk-{i}": p for i, p in enumerate(payloads)}, "CBOR round trip byte-exact")

# A timestamp in the future is refused, as the service does.
status, err = call("GetShardIterator", {"StreamName": stream, "ShardId": "shardId-000000000000",
                                        "ShardIteratorType": "AT_TIMESTAMP",
                                        "Timestamp": cbor2.CBORTag(1, int(time.time() * 1000) + 3600000)})
check(status == 400 and err["__type"] == "InvalidArgumentException", ("future timestamp", err))
# Errors are CBOR too; malformed CBOR is a SerializationException.
status, headers, body = conn.raw(TARGET + "ListStreams", b"\xbf\x61", CBOR_TYPE)
err = cbor2.loads(body)
check(status == 400 and err["__type"] == "SerializationException", ("malformed CBOR", err))
status, err = call("PutRecords", {"StreamName": stream, "Records": [{"Data": "text, not bytes", "PartitionKey": "k"}]})
check(status == 400 and err["__type"] == "SerializationException", ("base64 text that is not base64", err))
status, r = call("ListStreams", {})
check(status == 200 and stream in r["StreamNames"], "the server still serves")
print(f"CBOR: {checks} checks")
