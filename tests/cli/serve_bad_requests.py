"""Bad requests to kstream-serve: each answered with the service's error
(status, __type), and the server keeps serving after every one."""
import json
import sys

from serve_client import TARGET, Conn, b64

conn = Conn(sys.argv[1])
stream = sys.argv[2]  # exists, 1 shard
checks = 0


def expect_error(what, status, headers, body, want_type, want_status=400):
    global checks
    assert status == want_status, (what, status, body)
    doc = json.loads(body)
    assert doc["__type"] == want_type, (what, doc)
    assert doc["message"], (what, doc)
    assert headers.get("x-amzn-ErrorType") == want_type, (what, headers)
    assert headers.get("x-amzn-RequestId"), (what, headers)
    # ... and the server still answers a good request.
    assert conn.ok("DescribeStreamSummary", {"StreamName": stream})["StreamDescriptionSummary"]
    checks += 1


def put_records(records):
    return conn.raw(TARGET + "PutRecords",
                    json.dumps({"StreamName": stream, "Records": records}).encode())


expect_error("malformed JSON", *conn.raw(TARGET + "PutRecords", b'{"StreamName": "x", '),
             "SerializationException")
expect_error("not an object", *conn.raw(TARGET + "ListStreams", b"[1, 2]"),
             "SerializationException")
expect_error("wrong type", *conn.raw(TARGET + "CreateStream",
                                     b'{"StreamName": "t", "ShardCount": "two"}'),
             "SerializationException")
expect_error("unknown operation", *conn.raw(TARGET + "FlyToTheMoon", b"{}"),
             "UnknownOperationException")
expect_error("wrong target prefix", *conn.raw("DynamoDB_20120810.ListTables", b"{}"),
             "UnknownOperationException")
expect_error("no target", *conn.raw(None, b"{}"), "UnknownOperationException")
expect_error("oversize record",
             *put_records([{"PartitionKey": "k", "Data": b64(b"x" * (1024 * 1024 + 1))}]),
             "ValidationException")
expect_error("key + data over 1 MiB",
             *put_records([{"PartitionKey": "kk", "Data": b64(b"x" * (1024 * 1024 - 1))}]),
             "InvalidArgumentException")
expect_error("501 records", *put_records([{"PartitionKey": "k", "Data": "YQ=="}] * 501),
             "ValidationException")
expect_error("no records", *put_records([]), "ValidationException")
expect_error("over 5 MiB",
             *put_records([{"PartitionKey": "k", "Data": b64(b"y" * 1000000)}] * 6),
             "InvalidArgumentException")
expect_error("invalid base64", *put_records([{"PartitionKey": "k", "Data": "not base64!"}]),
             "SerializationException")
expect_error("partition key too long",
             *put_records([{"PartitionKey": "k" * 257, "Data": "YQ=="}]), "ValidationException")
expect_error("empty partition key", *put_records([{"PartitionKey": "", "Data": "YQ=="}]),
             "ValidationException")
expect_error("hash key out of range",
             *put_records([{"PartitionKey": "k", "Data": "YQ==",
                            "ExplicitHashKey": "340282366920938463463374607431768211456"}]),
             "InvalidArgumentException")
expect_error("hash key not decimal",
             *put_records([{"PartitionKey": "k", "Data": "YQ==", "ExplicitHashKey": "0x10"}]),
             "ValidationException")
expect_error("unknown stream (put)",
             *conn.raw(TARGET + "PutRecord",
                       json.dumps({"StreamName": "nope", "PartitionKey": "k",
                                   "Data": "YQ=="}).encode()),
             "ResourceNotFoundException")
expect_error("unknown stream (describe)",
             *conn.raw(TARGET + "DescribeStream", b'{"StreamName": "nope"}'),
             "ResourceNotFoundException")
expect_error("bad stream name",
             *conn.raw(TARGET + "DescribeStream", b'{"StreamName": "../etc"}'),
             "ValidationException")
expect_error("stream exists",
             *conn.raw(TARGET + "CreateStream",
                       json.dumps({"StreamName": stream, "ShardCount": 1}).encode()),
             "ResourceInUseException")
expect_error("unknown shard",
             *conn.raw(TARGET + "GetShardIterator",
                       json.dumps({"StreamName": stream, "ShardId": "shardId-000000000042",
                                   "ShardIteratorType": "TRIM_HORIZON"}).encode()),
             "ResourceNotFoundException")
expect_error("sequence number without AT_/AFTER_",
             *conn.raw(TARGET + "GetShardIterator",
                       json.dumps({"StreamName": stream, "ShardId": "shardId-000000000000",
                                   "ShardIteratorType": "LATEST",
                                   "StartingSequenceNumber": "1"}).encode()),
             "InvalidArgumentException")
expect_error("forged iterator",
             *conn.raw(TARGET + "GetRecords", b'{"ShardIterator": "AAAAAAAAAAFmb3JnZWQ="}'),
             "InvalidArgumentException")
expect_error("limit over 10000",
             *conn.raw(TARGET + "GetRecords",
                       json.dumps({"ShardIterator": "x", "Limit": 10001}).encode()),
             "ValidationException")
expect_error("scale over double",
             *conn.raw(TARGET + "UpdateShardCount",
                       json.dumps({"StreamName": stream, "TargetShardCount": 3,
                                   "ScalingType": "UNIFORM_SCALING"}).encode()),
             "LimitExceededException")
expect_error("retention below 24h",
             *conn.raw(TARGET + "DecreaseStreamRetentionPeriod",
                       json.dumps({"StreamName": stream, "RetentionPeriodHours": 12}).encode()),
             "InvalidArgumentException")
expect_error("split a missing shard",
             *conn.raw(TARGET + "SplitShard",
                       json.dumps({"StreamName": stream, "ShardToSplit": "shardId-000000000009",
                                   "NewStartingHashKey": "12345"}).encode()),
             "ResourceNotFoundException")
print(f"{checks} bad requests answered as the service does")
