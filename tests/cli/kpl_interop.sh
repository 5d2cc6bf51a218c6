#!/usr/bin/env bash
# KPL interoperability with the aws-kinesis-agg npm module (installed once
# into the build directory): kstream-put --aggregate writes the very bytes
# the module writes for the same records; the module's aggregates
# de-aggregate in kstream-get; kstream's aggregates de-aggregate in the
# module. Without node/npm or the registry it prints SKIP (the byte vector is
# also checked by unit.kpl).
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

# skip WHY: a visible SKIP, reported to ctest as skipped (exit 77), not passed.
skip() {
  echo "SKIP [$TEST_NAME]: $1" >&2
  _FINISHED=1
  exit 77
}

NPM_DIR="$KSTREAM_BIN/npm-cache"
AGG_VERSION=4.2.8
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  skip "node and npm are not installed (scripts/deps installs them)"
fi
if [[ ! -f $NPM_DIR/node_modules/aws-kinesis-agg/package.json ]]; then
  mkdir -p "$NPM_DIR"
  if ! (cd "$NPM_DIR" && timeout 300 npm install --prefix "$NPM_DIR" --no-audit --no-fund \
    --loglevel=error "aws-kinesis-agg@$AGG_VERSION" >"$WORK/npm.log" 2>&1); then
    tail -n 5 "$WORK/npm.log" >&2
    skip "npm install aws-kinesis-agg failed"
  fi
fi
export NODE_PATH="$NPM_DIR/node_modules"
agg() { node "$KSTREAM_SRC/tests/cli/kpl_agg.js" "$@"; }

# user records: put-records entries with repeated keys, some explicit hash
# keys, binary data of 0 to 299 bytes.
python3 -c '
import base64, json, random
rnd = random.Random(9)
for i in range(200):
    e = {"PartitionKey": "user-%d" % (i % 17),
         "Data": base64.b64encode(bytes(rnd.randrange(256) for _ in range(rnd.randrange(300)))).decode()}
    if i % 5 == 0:
        e["ExplicitHashKey"] = str(rnd.randrange(2**128))
    print(json.dumps(e))' >"$WORK/users.ndjson"

# canon: entries on stdin as canonical JSON lines, for comparison.
canon() {
  python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    print(json.dumps({k: e[k] for k in ("PartitionKey", "ExplicitHashKey", "Data") if k in e}, sort_keys=True))'
}

# --- The same bytes: one shard, so all 200 records make one aggregate.
expect_ok kstream create one --shards 1
expect_ok agg aggregate <"$WORK/users.ndjson"
cp "$OUT" "$WORK/theirs.json"
expect_ok kstream-put one --json --aggregate --stats <"$WORK/users.ndjson"
expect_contains "$ERR" '"UserRecords":200,"KinesisRecords":1,'
expect_ok kstream-get one --no-deaggregate --json
expect_lines 1 "$OUT"
expect_py "kstream's aggregate is byte for byte the module's" '
import json, sys
ours = json.loads(open(sys.argv[1]).readline())
theirs = json.loads(open(sys.argv[2]).readline())
assert ours["Data"] == theirs["Data"], "data differs"
assert ours["PartitionKey"] == "a", ours["PartitionKey"]
' "$OUT" "$WORK/theirs.json"

# --- Theirs into kstream: de-aggregated by kstream-get, every user record back.
expect_ok kstream create theirs --shards 2
expect_ok kstream-put theirs --json <"$WORK/theirs.json"
expect_ok kstream-get theirs --json
expect_lines 200 "$OUT"
canon <"$OUT" >"$WORK/got.canon"
canon <"$WORK/users.ndjson" >"$WORK/want.canon"
expect_same_file "$WORK/want.canon" "$WORK/got.canon" "user records of the module's aggregate"
expect_py "sub-sequence numbers 0..199 under one sequence number" '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["SubSequenceNumber"] for r in rs] == list(range(200))
assert len({r["SequenceNumber"] for r in rs}) == 1
' "$OUT"

# --- Ours into the module: several shards, several aggregates, each one
# de-aggregated by aws-kinesis-agg with its checksum verified.
expect_ok kstream create ours --shards 4
expect_ok kstream-put ours --json --aggregate --aggregate-max-size 4KiB --stats <"$WORK/users.ndjson"
kinesis=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read())["KinesisRecords"])' "$ERR")
expect_ge 8 "$kinesis" "Kinesis records from 4 shards and 4 KiB aggregates"
expect_ok kstream-get ours --no-deaggregate --json
cp "$OUT" "$WORK/raw.json"
expect_lines "$kinesis" "$WORK/raw.json"
expect_ok agg deaggregate <"$WORK/raw.json"
# The module gives a user record without an explicit hash key the table's
# first one (protobufjs defaults the absent index to 0): keys and data must
# match exactly, hash keys wherever the record had one.
expect_py "user records the module read from kstream's aggregates" '
import collections, json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
pairs = lambda rs: collections.Counter((r["PartitionKey"], r["Data"]) for r in rs)
assert pairs(want) == pairs(got), "keys and data differ"
hashed = lambda rs: collections.Counter((r["PartitionKey"], r["Data"], r.get("ExplicitHashKey")) for r in rs)
missing = [k for k in hashed([r for r in want if "ExplicitHashKey" in r]) if k not in hashed(got)]
assert not missing, missing[:3]
' "$WORK/users.ndjson" "$OUT"

finish
