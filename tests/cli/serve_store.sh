#!/usr/bin/env bash
# kstream-serve and the local tools on one KSTREAM_HOME at once; --enforce-
# limits throttling; SIGTERM while clients write loses no acknowledged record.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"
export PYTHONPATH="$KSTREAM_SRC/tests/cli"

expect_ok kstream create mix --shards 4
start_serve --threads 4

# kstream-put and two HTTP writers into the same stream at the same time.
seq -f 'local line %g' 1 3000 | kstream-put mix >"$WORK/put.out" 2>"$WORK/put.err" &
put_pid=$!
python3 "$KSTREAM_SRC/tests/cli/serve_writer.py" "$SERVE_URL" mix a 1500 100 >"$WORK/a.acks" &
a_pid=$!
python3 "$KSTREAM_SRC/tests/cli/serve_writer.py" "$SERVE_URL" mix b 1500 250 >"$WORK/b.acks" &
b_pid=$!
wait_exit 60 "$put_pid"
expect_eq 0 "$STATUS" "kstream-put exit status"
wait_exit 60 "$a_pid"
expect_eq 0 "$STATUS" "writer a"
wait_exit 60 "$b_pid"
expect_eq 0 "$STATUS" "writer b"
expect_lines 1500 "$WORK/a.acks"
expect_lines 1500 "$WORK/b.acks"

# Everything is there once, read directly and through the server.
expect_ok kstream-get mix
sort "$OUT" >"$WORK/local.sorted"
{ seq -f 'local line %g' 1 3000; cut -d' ' -f2- "$WORK/a.acks" "$WORK/b.acks"; } | sort >"$WORK/want.sorted"
expect_same_file "$WORK/want.sorted" "$WORK/local.sorted" "kstream-get sees every record once"
expect_py "GetRecords sees the same records, sequence numbers unique and increasing per shard" '
import base64, sys
from serve_client import Conn
c = Conn(sys.argv[1])
lines, seqs = [], set()
for shard in range(4):
    it = c.ok("GetShardIterator", {"StreamName": "mix", "ShardId": "shardId-%012d" % shard,
                                   "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    last = -1
    while True:
        r = c.ok("GetRecords", {"ShardIterator": it, "Limit": 1000})
        for rec in r["Records"]:
            s = int(rec["SequenceNumber"])
            assert s > last and s not in seqs, s
            last = s
            seqs.add(s)
            lines.append(base64.b64decode(rec["Data"]).decode())
        if not r["Records"]:
            break
        it = r["NextShardIterator"]
want = open(sys.argv[2]).read().split("\n")[:-1]
assert sorted(lines) == want, (len(lines), len(want))
' "$SERVE_URL" "$WORK/want.sorted"
stop_serve

# --enforce-limits: 500 records of 3,000 bytes for one shard in one call is
# over its 1 MiB/s: the excess fails alone, marked as throttled.
start_serve --enforce-limits
expect_ok kstream create limits --shards 2
# PutRecords past 1 MiB/s: per-record ProvisionedThroughputExceededException.
expect_ok python3 -c '
import sys
from serve_client import Conn, b64
c = Conn(sys.argv[1])
recs = [{"PartitionKey": "k%d" % i, "Data": b64(b"z" * 3000), "ExplicitHashKey": "5"} for i in range(500)]
r = c.ok("PutRecords", {"StreamName": "limits", "Records": recs})
ok = [x for x in r["Records"] if "SequenceNumber" in x]
bad = [x for x in r["Records"] if "ErrorCode" in x]
assert r["FailedRecordCount"] == len(bad) > 0 and len(ok) > 0, r["FailedRecordCount"]
assert len(ok) <= 1048576 // 3002, len(ok)
assert all(x["ErrorCode"] == "ProvisionedThroughputExceededException" and "shardId-000000000000" in x["ErrorMessage"] for x in bad)
print(len(ok))
' "$SERVE_URL"
written=$(cat "$OUT")
expect_eq "$written" "$(count_records limits)" "only the admitted records were written"
expect_py "GetRecords past 5 calls/s: ProvisionedThroughputExceededException" '
import json, sys
from serve_client import Conn, TARGET
c = Conn(sys.argv[1])
it = c.ok("GetShardIterator", {"StreamName": "limits", "ShardId": "shardId-000000000001",
                               "ShardIteratorType": "LATEST"})["ShardIterator"]
codes = []
for _ in range(50):
    status, body = c.call("GetRecords", {"ShardIterator": it})
    codes.append(body.get("__type", "ok") if status != 200 else "ok")
assert "ProvisionedThroughputExceededException" in codes, codes
assert codes[:5] == ["ok"] * 5, codes
' "$SERVE_URL"
stop_serve

# Resharding by kstream-scale while two clients write through the server,
# then SIGTERM: no put fails, the server exits 0, and every acknowledged
# record is stored exactly once.
start_serve
python3 "$KSTREAM_SRC/tests/cli/serve_writer.py" "$SERVE_URL" mix c 1000000 50 >"$WORK/c.acks" &
c_pid=$!
python3 "$KSTREAM_SRC/tests/cli/serve_writer.py" "$SERVE_URL" mix d 1000000 7 >"$WORK/d.acks" &
d_pid=$!
wait_until 30 "both writers had acknowledgements" has_lines 100 "$WORK/d.acks"
wait_until 30 "both writers had acknowledgements" has_lines 100 "$WORK/c.acks"
expect_ok kstream-scale mix resize 8
acked=$(wc -l <"$WORK/d.acks")
wait_until 30 "writes go on after the resize" has_lines $((acked + 50)) "$WORK/d.acks"
expect_ok kstream-scale mix resize 4
acked=$(wc -l <"$WORK/d.acks")
wait_until 30 "writes go on after the second resize" has_lines $((acked + 50)) "$WORK/d.acks"
stop_serve
wait_exit 30 "$c_pid"
expect_eq 0 "$STATUS" "writer c (a failed put would stop it with status 1)"
wait_exit 30 "$d_pid"
expect_eq 0 "$STATUS" "writer d"
expect_ok kstream-get mix
sort "$OUT" >"$WORK/after.sorted"
cut -d' ' -f2- "$WORK/c.acks" "$WORK/d.acks" | sort >"$WORK/acked.sorted"
expect_eq "" "$(comm -23 "$WORK/acked.sorted" "$WORK/after.sorted" | head -n 3)" "acknowledged records missing from the store"
expect_eq "" "$(grep -E '^(c|d) record' "$WORK/after.sorted" | uniq -d | head -n 3)" "records stored twice"
finish
