#!/usr/bin/env bash
# kstream-get --follow: new records reach a running follower, --json and
# --shard work while following, SIGTERM stops a follower cleanly, and a
# closed pipe (| head) ends a reader quietly.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

# Routes to shard 0 / shard 1 of a 2-shard stream by explicit hash key.
LOW_HASH=5
HIGH_HASH=340282366920938463463374607431768211455

expect_ok kstream create f --shards 2
expect_ok kstream-put f < <(printf 'old-%d\n' 1 2 3)

# --- A follower started before a put sees the record.
kstream-get f --follow >"$WORK/follow.out" 2>"$WORK/follow.err" &
follower=$!
wait_until 10 "follower prints the 3 old records" has_lines 3 "$WORK/follow.out"
expect_ok kstream-put f <<<"new-after-start"
wait_until 10 "follower prints new-after-start" grep -qx new-after-start "$WORK/follow.out"
# A bigger burst, through a pipe, while following.
expect_ok kstream-put f < <(seq -f 'burst-%g' 1 20000)
wait_until 20 "follower prints all 20,000 burst records" has_lines 20004 "$WORK/follow.out"
expect_eq 1 "$(kill -0 "$follower" 2>/dev/null && echo 1 || echo 0)" "follower still running"
# SIGTERM: flush, exit 0.
kill -TERM "$follower"
wait_exit 10 "$follower"
expect_eq 0 "$STATUS" "follower's exit status after SIGTERM"
expect_empty "$WORK/follow.err" "follower wrote to stderr"
expect_lines 20004 "$WORK/follow.out"
{ printf 'old-%d\n' 1 2 3; echo new-after-start; seq -f 'burst-%g' 1 20000; } | sort >"$WORK/want"
sort "$WORK/follow.out" >"$WORK/got"
expect_same_file "$WORK/want" "$WORK/got" "follower output (sorted)"

# --- -f --json.
kstream-get f -f --json >"$WORK/fj.out" 2>"$WORK/fj.err" &
fj=$!
wait_until 10 "json follower catches up" has_lines 20004 "$WORK/fj.out"
expect_ok kstream-put f -k json-key <<<'json "record" with\ttab'
wait_until 10 "json follower prints the new record" has_lines 20005 "$WORK/fj.out"
expect_py "-f --json: last line is the new record's envelope" '
import base64, json, sys
lines = open(sys.argv[1]).read().splitlines()
r = json.loads(lines[-1])
assert set(r) >= {"ShardId", "SequenceNumber", "PartitionKey", "ApproximateArrivalTimestamp", "Data"}, r
assert r["PartitionKey"] == "json-key", r
assert base64.b64decode(r["Data"]) == b"json \"record\" with\\ttab", r
assert r["ShardId"] in ("shardId-000000000000", "shardId-000000000001"), r
' "$WORK/fj.out"
kill -TERM "$fj"
wait_exit 10 "$fj"
expect_eq 0 "$STATUS" "json follower's exit status after SIGTERM"
expect_empty "$WORK/fj.err"

# --- -f on one shard ("1" is short for shardId-000000000001).
kstream-get f --shard 1 -f --json >"$WORK/s1.out" 2>"$WORK/s1.err" &
s1=$!
before=$(kstream-get f --shard shardId-000000000001 | wc -l)
wait_until 10 "shard follower catches up ($before records)" has_lines "$before" "$WORK/s1.out"
expect_ok kstream-put f -k any -E "$LOW_HASH" <<<"to-shard-0"
expect_ok kstream-put f -k any -E "$HIGH_HASH" <<<"to-shard-1"
wait_until 10 "shard follower prints to-shard-1" has_lines $((before + 1)) "$WORK/s1.out"
kill -TERM "$s1"
wait_exit 10 "$s1"
expect_eq 0 "$STATUS" "shard follower's exit status after SIGTERM"
expect_empty "$WORK/s1.err"
expect_py "--shard 1 -f: only shard 1, ends with to-shard-1, no to-shard-0" '
import base64, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert {r["ShardId"] for r in recs} == {"shardId-000000000001"}, {r["ShardId"] for r in recs}
data = [base64.b64decode(r["Data"]) for r in recs]
assert data[-1] == b"to-shard-1", data[-3:]
assert b"to-shard-0" not in data
' "$WORK/s1.out"
expect_ok kstream-get f --shard 0
expect_contains "$OUT" "to-shard-0"
expect_not_contains "$OUT" "to-shard-1"

# --- SIGTERM while idle (blocked waiting for records) and SIGINT.
for sig in TERM INT; do
  # A file per signal: the last round's full file must not pass for this one's.
  "${SIGINT_DEFAULT[@]}" kstream-get f -f >"$WORK/idle-$sig.out" 2>"$WORK/idle-$sig.err" &
  idle=$!
  wait_until 10 "idle follower catches up" has_lines 20007 "$WORK/idle-$sig.out"
  kill -"$sig" "$idle"
  wait_exit 10 "$idle"
  expect_eq 0 "$STATUS" "idle follower's exit status after SIG$sig"
  expect_empty "$WORK/idle-$sig.err"
done

# --- A follower on an empty stream sees the first record.
expect_ok kstream create empty --shards 3
kstream-get empty -f --ordered >"$WORK/empty.out" 2>"$WORK/empty.err" &
ef=$!
expect_ok kstream-put empty -k a <<<"first-ever"
wait_until 10 "follower of an empty stream prints first-ever" grep -qx first-ever "$WORK/empty.out"
kill -TERM "$ef"
wait_exit 10 "$ef"
expect_eq 0 "$STATUS"

# --- Across a segment roll (segments roll at 64 MiB): 70,000 records of 1 KiB.
expect_ok kstream create roll
kstream-get roll -f >"$WORK/roll.out" 2>"$WORK/roll.err" &
rf=$!
python3 -c '
import sys
pad = "r" * 1000
for i in range(1, 70001):
    sys.stdout.write("%d %s\n" % (i, pad))
' >"$WORK/roll.in"
expect_ok kstream-put roll -k k --print <"$WORK/roll.in"
cp "$OUT" "$WORK/roll.seq"
wait_until 30 "follower prints all 70,000 records" has_lines 70000 "$WORK/roll.out"
kill -TERM "$rf"
wait_exit 10 "$rf"
expect_eq 0 "$STATUS" "roll follower's exit status"
expect_same_file "$WORK/roll.in" "$WORK/roll.out" "follower output across a segment roll"
expect_empty "$WORK/roll.err"
expect_ok kstream describe roll --json
expect_py "the stream has more than one segment" '
import json, sys
s = json.load(open(sys.argv[1]))["StreamDescription"]["Shards"]
assert sum(x["Segments"] for x in s) >= 2, s
' "$OUT"
expect_ok kstream-get roll
expect_same_file "$WORK/roll.in" "$OUT" "get output across a segment roll"
# Seeks into the later segment.
seq_65000=$(sed -n 65000p "$WORK/roll.seq" | python3 -c 'import json,sys; print(json.load(sys.stdin)["SequenceNumber"])')
expect_ok kstream-get roll -i AT_SEQUENCE_NUMBER --sequence-number "$seq_65000" -n 2
expect_eq $'65000\n65001' "$(cut -d' ' -f1 "$OUT")" "AT_SEQUENCE_NUMBER in the second segment"
expect_ok kstream-get roll -i AFTER_SEQUENCE_NUMBER --sequence-number "$seq_65000"
expect_lines 5000 "$OUT"
expect_eq 65001 "$(head -n 1 "$OUT" | cut -d' ' -f1)" "AFTER_SEQUENCE_NUMBER in the second segment"

# --- | head -n 1 on 200,000 records (and 100,000 more in shard 1): quiet, status 0.
expect_ok kstream create big --shards 2
expect_ok kstream-put big -k k < <(seq 1 200000)
expect_ok kstream-put big -k k -E "$HIGH_HASH" < <(seq 1 100000)
expect_eq 300000 "$(kstream-get big | wc -l)" "records in 'big'"
for args in "" "--json" "--ordered" "--follow" "--shard 1 --follow --json"; do
  rc=0
  # shellcheck disable=SC2086  # $args is a list of flags
  timeout 30 kstream-get big $args 2>"$WORK/head.err" | head -n 1 >"$WORK/head.out" || rc=$?
  codes="${PIPESTATUS[*]}"
  expect_eq "0 0" "$codes" "PIPESTATUS of 'kstream-get big $args | head -n 1'"
  expect_eq 0 "$rc" "status of the pipeline"
  expect_empty "$WORK/head.err" "stderr of 'kstream-get big $args | head -n 1'"
  expect_lines 1 "$WORK/head.out"
done
# NUL-terminated output: head counts bytes instead.
rc=0
timeout 30 kstream-get big -0 2>"$WORK/head.err" | head -c 5 >"$WORK/head.out" || rc=$?
codes="${PIPESTATUS[*]}"
expect_eq "0 0" "$codes" "PIPESTATUS of 'kstream-get big -0 | head -c 5'"
expect_empty "$WORK/head.err" "stderr of 'kstream-get big -0 | head -c 5'"
expect_eq 5 "$(wc -c <"$WORK/head.out")" "bytes from head -c 5"
# Plain lines with a single key keep the order: the first line is the first record.
timeout 30 kstream-get big | head -n 1 >"$WORK/head.out"
expect_eq 1 "$(cat "$WORK/head.out")" "first record of 'big'"

finish
