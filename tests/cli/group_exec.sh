#!/usr/bin/env bash
# kstream-get --group --exec: a command per batch with the records on stdin
# and the batch in the environment; a poison record is retried, bisected and
# set aside in the failure file (or another stream) while every other record
# is delivered exactly once; without --on-failure the worker stops with a
# clear message and what came before stays checkpointed.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

expect_ok kstream create ex --shards 3
expect_ok kstream-put ex < <(seq -f 'rec-%g' 0 299)

# The command: fail on rec-123, else keep the batch (and note its environment).
cat >"$WORK/handle.sh" <<'SH'
in=$(cat)
if printf '%s\n' "$in" | grep -qx rec-123; then
  echo "poison in $KSTREAM_SHARD_ID attempt $KSTREAM_ATTEMPT" >&2
  exit 3
fi
printf '%s\n' "$in" >>"$OUT_FILE"
echo "$KSTREAM_STREAM $KSTREAM_GROUP $KSTREAM_SHARD_ID $KSTREAM_FIRST_SEQUENCE $KSTREAM_LAST_SEQUENCE $KSTREAM_RECORD_COUNT" >>"$ENV_FILE"
SH
export OUT_FILE="$WORK/delivered" ENV_FILE="$WORK/env"

expect_ok kstream-get ex --group lambda --exec "sh $WORK/handle.sh" --batch-size 20 \
  --max-retries 2 --bisect-on-error --on-failure "$WORK/failed.ndjson"
expect_contains "$ERR" "poison in shardId-"
expect_contains "$ERR" "kstream-get: warning: --exec command failed on 1 record(s) of shardId-"
expect_contains "$ERR" "exit status 3, 3 attempt(s); sent to failure file"
expect_eq 299 "$(wc -l <"$WORK/delivered")" "records delivered"
expect_eq 299 "$(sort -u "$WORK/delivered" | wc -l)" "distinct records delivered"
expect_eq "" "$(grep -x rec-123 "$WORK/delivered" || true)" "poison delivered"
expect_lines 1 "$WORK/failed.ndjson"
expect_py "the failure file holds the poison record and its error" '
import base64, json, sys
r = json.loads(open(sys.argv[1]).readline())
assert base64.b64decode(r["Data"]) == b"rec-123", r
assert r["ErrorMessage"] == "exit status 3" and r["Attempts"] == 3, r
assert r["Stream"] == "ex" and r["Group"] == "lambda" and r["ShardId"].startswith("shardId-"), r
' "$WORK/failed.ndjson"
expect_py "each batch: its shard, sequence range and count" '
import sys
for line in open(sys.argv[1]):
    stream, group, shard, first, last, count = line.split()
    assert (stream, group) == ("ex", "lambda"), line
    assert 1 <= int(count) <= 20 and int(first) <= int(last), line
    assert (int(first) >> 64) - 1 == int(shard[len("shardId-"):]), line
' "$ENV_FILE"
expect_ok kstream group ex lambda --json
expect_py "everything checkpointed" '
import json, sys
g = json.load(open(sys.argv[1]))
assert g["LagRecords"] == 0, g
' "$OUT"

# --- stream:NAME as the failure destination.
expect_ok kstream create dead
: >"$WORK/delivered"
expect_ok kstream-get ex --group lambda2 --exec "sh $WORK/handle.sh" --batch-size 50 \
  --max-retries 0 --bisect-on-error --on-failure stream:dead -q
expect_not_contains "$ERR" "warning"
expect_eq 299 "$(sort -u "$WORK/delivered" | wc -l)" "distinct records delivered (stream:dead)"
expect_ok kstream-get dead
expect_lines 1 "$OUT"
expect_contains "$OUT" '"ErrorMessage":"exit status 3"'

# --- No failure destination: the worker stops, status 1, at the failing batch.
: >"$WORK/delivered"
expect_exit 1 kstream-get ex --group strict --exec "sh $WORK/handle.sh" --batch-size 20 \
  --max-retries 1
expect_contains "$ERR" "kstream-get: error: --exec command failed on 20 record(s) of shardId-"
expect_contains "$ERR" "2 attempt(s); stopping"
expect_ok kstream group ex strict --json
expect_py "the failing shard is checkpointed just before its failing batch; no owner left" '
import json, sys
g = json.load(open(sys.argv[1]))
assert g["Workers"] == [], g
assert any(s["LagRecords"] > 0 for s in g["Shards"]), g
' "$OUT"
expect_eq "" "$(grep -x rec-123 "$WORK/delivered" || true)" "poison delivered (strict)"

# --- SIGTERM while a batch runs: it finishes, is checkpointed, exit 0.
expect_ok kstream create slow
expect_ok kstream-put slow < <(seq -f 'slow-%g' 1 5)
"${SIGINT_DEFAULT[@]}" kstream-get slow --group g -f --exec "cat >>'$WORK/slow.out'; touch '$WORK/started'; sleep 1" \
  --batch-size 5 >"$WORK/slow.stdout" 2>"$WORK/slow.err" &
slow=$!
wait_until 10 "the batch is running" test -e "$WORK/started"
kill -TERM "$slow"
wait_exit 10 "$slow"
expect_eq 0 "$STATUS" "status after SIGTERM during a batch"
expect_empty "$WORK/slow.err"
expect_ok kstream-get slow --group g --exec "cat >>'$WORK/slow.out'"
expect_eq 5 "$(wc -l <"$WORK/slow.out")" "the batch in hand was checkpointed, not run again"

finish
