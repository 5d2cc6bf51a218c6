#!/usr/bin/env bash
# KPL aggregation end to end: kstream-put --aggregate puts come back byte for
# byte through kstream-get (lines, NUL, --json with sub-sequence numbers,
# per-key order), raw with --no-deaggregate, in kstream-window --stream; a
# consumer group stopped in the middle of an aggregate resumes at the next
# user record; malformed aggregates are passed on raw and counted; --failed
# and --stats; usage errors.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

# --- Lines with keys from a field: read back byte for byte, per-key order kept.
python3 -c '
import json
for i in range(5000):
    print(json.dumps({"k": "key%d" % (i % 37), "n": i, "pad": "x" * (i % 90)}))' >"$WORK/in.ndjson"
expect_ok kstream create s --shards 4
expect_ok kstream-put s --aggregate -K k --stats <"$WORK/in.ndjson"
cp "$ERR" "$WORK/stats.json"
expect_py "--stats counts user and Kinesis records" '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["UserRecords"] == 5000, s
assert 4 <= s["KinesisRecords"] <= 100, s
assert abs(s["AggregationRatio"] - 5000 / s["KinesisRecords"]) < 0.01, s
assert s["Failed"] == 0 and s["Skipped"] == 0, s
assert 0 <= s["LatencyMs"]["p50"] <= s["LatencyMs"]["p99"] <= s["LatencyMs"]["max"], s
' "$WORK/stats.json"
expect_ok kstream-get s
sort "$OUT" >"$WORK/got.sorted"
sort "$WORK/in.ndjson" >"$WORK/in.sorted"
expect_same_file "$WORK/in.sorted" "$WORK/got.sorted" "user records read back"
expect_py "each key in put order" '
import json, sys
last = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert last.get(r["k"], -1) < r["n"], r
    last[r["k"]] = r["n"]
' "$OUT"

# --json: the outer sequence number, a sub-sequence number, the user's key.
expect_ok kstream-get s --json
expect_py "--json envelopes of user records" '
import base64, collections, json, sys
subs = collections.defaultdict(list)
for l in open(sys.argv[1]):
    e = json.loads(l)
    data = json.loads(base64.b64decode(e["Data"]))
    assert e["PartitionKey"] == data["k"], e
    subs[e["SequenceNumber"]].append(e.get("SubSequenceNumber"))
aggregated = [v for v in subs.values() if v[0] is not None]
assert aggregated, "no aggregate"
for v in aggregated:
    assert v == list(range(len(v))), v
' "$OUT"

# Copying a stream copies its user records.
expect_ok kstream create copy --shards 2
kstream-get s --json | kstream-put copy --json --aggregate
expect_ok kstream-get copy
sort "$OUT" >"$WORK/copy.sorted"
expect_same_file "$WORK/in.sorted" "$WORK/copy.sorted" "user records of the copy"

# --no-deaggregate: the Kinesis records as stored, aggregates under key "a".
expect_ok kstream-get s --no-deaggregate --json
expect_py "--no-deaggregate gives the Kinesis records" '
import base64, json, sys
stats = json.load(open(sys.argv[2]))
rs = [json.loads(l) for l in open(sys.argv[1])]
assert len(rs) == stats["KinesisRecords"], (len(rs), stats)
aggs = [r for r in rs if base64.b64decode(r["Data"])[:4] == bytes.fromhex("f3899ac2")]
assert aggs and all(r["PartitionKey"] == "a" and "ExplicitHashKey" in r for r in aggs)
assert all("SubSequenceNumber" not in r for r in rs)
' "$OUT" "$WORK/stats.json"

# kstream-window --stream reads the user records too.
expect_ok kstream-window --stream s --tumbling 1h --count
expect_py "kstream-window counts user records" '
import json, sys
assert sum(json.loads(l)["count"] for l in open(sys.argv[1])) == 5000
' "$OUT"
expect_ok kstream-window --stream s --no-deaggregate --tumbling 1h --count
expect_contains "$ERR" "invalid record"

# kstream-deliver delivers the user records, each exactly once, its files
# ending between Kinesis records (small buffers: many files), across a restart.
mkdir -p "$WORK/lake"
expect_ok kstream-deliver s --to "$WORK/lake" --until-caught-up --buffer-size 2KiB
head -n 700 "$WORK/in.ndjson" | sed 's/"n": /"n2": /' >"$WORK/more.ndjson"
expect_ok kstream-put s --aggregate -K k <"$WORK/more.ndjson"
expect_ok kstream-deliver s --to "$WORK/lake" --until-caught-up --buffer-size 2KiB
find "$WORK/lake" -type f -not -path "*/.*" -exec cat {} + | sort >"$WORK/lake.sorted"
sort "$WORK/in.ndjson" "$WORK/more.ndjson" >"$WORK/all.sorted"
expect_same_file "$WORK/all.sorted" "$WORK/lake.sorted" "user records delivered once each"
expect_ge 8 "$(find "$WORK/lake" -type f -not -path "*/.*" | wc -l)" "delivered files"

# --- NUL-delimited binary records, small aggregates: byte for byte.
python3 -c '
import random, sys
rnd = random.Random(3)
out = sys.stdout.buffer
for i in range(3000):
    out.write(bytes(rnd.choice(b"ab\n\r\x01\xf3\x89\x9a\xc2") for _ in range(rnd.randrange(1, 200))) + b"\0")
' >"$WORK/bin.in"
expect_ok kstream create bin --shards 3
expect_ok kstream-put bin -0 --aggregate --aggregate-max-count 10 --aggregate-max-size 1KiB --stats <"$WORK/bin.in"
expect_py "aggregates of at most 10 records" '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["KinesisRecords"] >= 300, s
' "$ERR"
expect_ok kstream-get bin -0 --ordered
python3 -c '
import sys
for p in sys.argv[1:]:
    rs = open(p, "rb").read().split(b"\0")
    open(p + ".sorted", "wb").write(b"\0".join(sorted(rs)))' "$WORK/bin.in" "$OUT"
expect_same_file "$WORK/bin.in.sorted" "$OUT.sorted" "binary records read back"

# --- A consumer group stopped in the middle of an aggregate: one shard, one
# aggregate of 100 records; 30 now, the other 70 after the restart.
seq 1 100 >"$WORK/hundred"
expect_ok kstream create one --shards 1
expect_ok kstream-put one -k same --aggregate --stats <"$WORK/hundred"
expect_contains "$ERR" '"KinesisRecords":1,'
expect_ok kstream-get one --group g -n 30
cp "$OUT" "$WORK/first"
expect_lines 30 "$WORK/first"
leases="$KSTREAM_HOME/streams/one/groups/g/leases.json"
expect_contains "$leases" '"checkpointSubSequenceNumber": 29'
expect_ok kstream-get one --group g
cp "$OUT" "$WORK/rest"
expect_lines 70 "$WORK/rest"
cat "$WORK/first" "$WORK/rest" >"$WORK/both"
expect_same_file "$WORK/hundred" "$WORK/both" "the group's records across the restart"
expect_contains "$leases" '"checkpointSubSequenceNumber": 99'
expect_ok kstream-get one --group g
expect_empty "$OUT" "nothing after the whole aggregate was checkpointed"

# --- Malformed aggregates: passed on raw, counted, never dropped.
python3 -c '
import base64, hashlib, json
magic = bytes.fromhex("f3899ac2")
def entry(data):
    return json.dumps({"PartitionKey": "m", "Data": base64.b64encode(data).decode()})
msg = b"\x0a\x01k" + b"\x1a\x07\x08\x00\x1a\x03one"       # table ["k"], record {0, "one"}
print(entry(magic + msg + hashlib.md5(msg).digest()))          # good
print(entry(magic + msg + bytes(16)))                          # wrong MD5
cut = msg[:-2]
print(entry(magic + cut + hashlib.md5(cut).digest()))          # truncated protobuf
bad = b"\x0a\x01k" + b"\x1a\x07\x08\x05\x1a\x03one"       # index 5 of a table of 1
print(entry(magic + bad + hashlib.md5(bad).digest()))
print(entry(magic + b"short"))                                 # too short
print(entry(b"plain"))
' >"$WORK/malformed.ndjson"
expect_ok kstream create mal --shards 1
expect_ok kstream-put mal --json <"$WORK/malformed.ndjson"
expect_ok kstream-get mal --json
expect_contains "$ERR" "warning: 4 malformed KPL aggregated record(s) passed on as they are"
expect_py "malformed records come out raw, in place" '
import base64, json, sys
put = [json.loads(l)["Data"] for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == 6, len(got)
assert base64.b64decode(got[0]["Data"]) == b"one" and got[0]["SubSequenceNumber"] == 0
assert got[0]["PartitionKey"] == "k"
assert [g["Data"] for g in got[1:]] == put[1:], "raw data differs"
assert all("SubSequenceNumber" not in g for g in got[1:])
' "$WORK/malformed.ndjson" "$OUT"
expect_ok kstream-get mal --quiet
expect_empty "$ERR" "--quiet keeps the count to itself"
expect_ok kstream-get mal --group mg
expect_contains "$ERR" "4 malformed KPL aggregated record(s)"

# --- --failed: skipped lines, one JSON line each with its line number.
printf '{"PartitionKey":"k","Data":"aGk="}\nnot json\n{"PartitionKey":"","Data":"aGk="}\n' >"$WORK/some-bad"
expect_ok kstream-put mal --json --skip-invalid --failed "$WORK/failed.ndjson" <"$WORK/some-bad"
expect_lines 2 "$WORK/failed.ndjson"
expect_py "--failed lines name the line and the error" '
import base64, json, sys
fs = [json.loads(l) for l in open(sys.argv[1])]
assert [f["Line"] for f in fs] == [2, 3], fs
assert base64.b64decode(fs[0]["Data"]) == b"not json" and fs[0]["Error"], fs[0]
assert "partition key" in fs[1]["Error"], fs[1]
' "$WORK/failed.ndjson"

# --- Usage errors.
expect_exit 2 kstream-put s --aggregate-max-size 10
expect_contains "$ERR" "--aggregate-max-size"
expect_exit 2 kstream-put s --aggregate-max-size 2MiB
expect_exit 2 kstream-put s --aggregate-max-count 0
expect_exit 2 kstream-put s --batch-bytes 0
expect_exit 2 kstream-window --no-deaggregate --tumbling 1m --count
expect_contains "$ERR" "go with --stream"

finish
