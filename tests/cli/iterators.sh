#!/usr/bin/env bash
# Every shard iterator type through kstream-get, plus -n/--limit.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

LOW_HASH=1
HIGH_HASH=340282366920938463463374607431768211455

# Stream "it": one key (one shard) in two batches a second apart.
expect_ok kstream create it --shards 2
expect_ok kstream-put it -k one --print < <(seq -f 'b1-%g' 1 10)
cp "$OUT" "$WORK/b1.seq"
expect_lines 10 "$WORK/b1.seq"
expect_ok kstream-get it --json
# T: a whole second after every batch-1 arrival; batch 2 arrives after T.
T=$(python3 -c '
import json, math, sys
print(max(math.floor(json.loads(l)["ApproximateArrivalTimestamp"]) + 1 for l in open(sys.argv[1])))
' "$OUT")
wait_until 5 "the clock passes T=$T" python3 -c 'import sys, time; sys.exit(time.time() < int(sys.argv[1]) + 0.2)' "$T"
expect_ok kstream-put it -k one --print < <(seq -f 'b2-%g' 1 10)
cp "$OUT" "$WORK/b2.seq"
expect_ok kstream-get it --json
expect_py "batch 1 arrived before T, batch 2 after" '
import base64, json, sys
t = int(sys.argv[2])
for l in open(sys.argv[1]):
    r = json.loads(l)
    d = base64.b64decode(r["Data"]).decode()
    assert (r["ApproximateArrivalTimestamp"] < t) == d.startswith("b1-"), (d, r["ApproximateArrivalTimestamp"], t)
' "$OUT" "$T"
all_lines=$(printf 'b1-%d\n' {1..10}; printf 'b2-%d\n' {1..10})
b2_lines=$(printf 'b2-%d\n' {1..10})

# Sequence numbers from --print: seq_of FILE N -> the Nth record's number.
seq_of() { sed -n "${2}p" "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["SequenceNumber"])'; }

# --- TRIM_HORIZON: the default, everything.
expect_ok kstream-get it
expect_eq "$all_lines" "$(cat "$OUT")" "default iterator"
expect_ok kstream-get it -i TRIM_HORIZON
expect_eq "$all_lines" "$(cat "$OUT")" "TRIM_HORIZON"
expect_ok kstream-get it --iterator TRIM_HORIZON --json
expect_lines 20 "$OUT"

# --- AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER.
s3=$(seq_of "$WORK/b1.seq" 3)
expect_ok kstream-get it -i AT_SEQUENCE_NUMBER --sequence-number "$s3"
expect_eq "$(printf 'b1-%d\n' {3..10}; echo "$b2_lines")" "$(cat "$OUT")" "AT_SEQUENCE_NUMBER of b1-3"
expect_ok kstream-get it -i AFTER_SEQUENCE_NUMBER --sequence-number "$s3"
expect_eq "$(printf 'b1-%d\n' {4..10}; echo "$b2_lines")" "$(cat "$OUT")" "AFTER_SEQUENCE_NUMBER of b1-3"
s_last=$(seq_of "$WORK/b2.seq" 10)
expect_ok kstream-get it -i AT_SEQUENCE_NUMBER --sequence-number "$s_last"
expect_eq "b2-10" "$(cat "$OUT")" "AT_SEQUENCE_NUMBER of the last record"
expect_ok kstream-get it -i AFTER_SEQUENCE_NUMBER --sequence-number "$s_last"
expect_empty "$OUT" "AFTER_SEQUENCE_NUMBER of the last record"
s_first=$(seq_of "$WORK/b1.seq" 1)
expect_ok kstream-get it -i AT_SEQUENCE_NUMBER --sequence-number "$s_first" --json
expect_py "AT_SEQUENCE_NUMBER --json starts at that number" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert recs[0]["SequenceNumber"] == sys.argv[2] and len(recs) == 20, (recs[0], len(recs))
' "$OUT" "$s_first"

# In a two-shard stream the number picks its shard.
expect_ok kstream create two --shards 2
expect_ok kstream-put two -k k -E "$LOW_HASH" --print < <(seq -f 'low-%g' 1 5)
cp "$OUT" "$WORK/low.seq"
expect_ok kstream-put two -k k -E "$HIGH_HASH" --print < <(seq -f 'high-%g' 1 5)
cp "$OUT" "$WORK/high.seq"
expect_contains "$WORK/low.seq" '"ShardId":"shardId-000000000000"'
expect_contains "$WORK/high.seq" '"ShardId":"shardId-000000000001"'
expect_ok kstream-get two -i AT_SEQUENCE_NUMBER --sequence-number "$(seq_of "$WORK/high.seq" 2)"
expect_eq "$(printf 'high-%d\n' 2 3 4 5)" "$(cat "$OUT")" "AT_SEQUENCE_NUMBER in shard 1"
expect_ok kstream-get two -i AFTER_SEQUENCE_NUMBER --sequence-number "$(seq_of "$WORK/low.seq" 4)"
expect_eq "low-5" "$(cat "$OUT")" "AFTER_SEQUENCE_NUMBER in shard 0"
# After a shard's last record: nothing yet; a follower sees what comes next,
# from that shard only.
kstream-get two -i AFTER_SEQUENCE_NUMBER --sequence-number "$(seq_of "$WORK/high.seq" 5)" -f -n 1 \
  >"$WORK/after.out" 2>"$WORK/after.err" &
after=$!
expect_ok kstream-put two -k k -E "$LOW_HASH" <<<"low-6"
expect_ok kstream-put two -k k -E "$HIGH_HASH" <<<"high-6"
wait_exit 10 "$after"
expect_eq 0 "$STATUS" "AFTER_SEQUENCE_NUMBER -f -n 1 exit status"
expect_eq "high-6" "$(cat "$WORK/after.out")" "AFTER_SEQUENCE_NUMBER of the last record, following"
expect_empty "$WORK/after.err"

# --- AT_TIMESTAMP with T in every accepted form.
T_ISO=$(python3 -c 'import sys, time; print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(sys.argv[1]))))' "$T")
for ts in "$T" "${T}000ms" "$T_ISO" "${T}.000"; do
  expect_ok kstream-get it -i AT_TIMESTAMP --timestamp "$ts"
  expect_eq "$b2_lines" "$(cat "$OUT")" "AT_TIMESTAMP $ts"
done
# One millisecond before T: the same (nothing arrived in that millisecond).
expect_ok kstream-get it -i AT_TIMESTAMP --timestamp "$((T * 1000 - 1))ms"
expect_eq "$b2_lines" "$(cat "$OUT")" "AT_TIMESTAMP T-1ms"
# Before everything: all of it. Exactly at the first arrival: all of it.
expect_ok kstream-get it -i AT_TIMESTAMP --timestamp 0
expect_eq "$all_lines" "$(cat "$OUT")" "AT_TIMESTAMP 0"
expect_ok kstream-get it -i AT_TIMESTAMP --timestamp 2001-09-09T01:46:40Z
expect_eq "$all_lines" "$(cat "$OUT")" "AT_TIMESTAMP 2001"
first_ms=$(kstream-get it --json -n 1 | python3 -c '
import json, sys
print(round(json.load(sys.stdin)["ApproximateArrivalTimestamp"] * 1000))')
expect_ok kstream-get it -i AT_TIMESTAMP --timestamp "${first_ms}ms"
expect_eq "$all_lines" "$(cat "$OUT")" "AT_TIMESTAMP of the first arrival"
expect_ok kstream-get it -i AT_TIMESTAMP --timestamp "$((first_ms + 1))ms" --json
expect_py "AT_TIMESTAMP first+1ms: only records that arrived then or later" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert all(r["ApproximateArrivalTimestamp"] * 1000 >= int(sys.argv[2]) - 0.5 for r in recs)
assert len(recs) >= 10, len(recs)
' "$OUT" "$((first_ms + 1))"
# After everything (but not in the future): nothing.
now_ms=$(python3 -c 'import time; print(int(time.time() * 1000))')
expect_ok kstream-get it -i AT_TIMESTAMP --timestamp "${now_ms}ms"
expect_empty "$OUT" "AT_TIMESTAMP now"
# Across shards, with --ordered.
expect_ok kstream create ts --shards 3
expect_ok kstream-put ts < <(seq -f 'old-%g' 1 300)
expect_ok kstream-get ts --json
T2=$(python3 -c '
import json, math, sys
print(max(math.floor(json.loads(l)["ApproximateArrivalTimestamp"]) + 1 for l in open(sys.argv[1])))
' "$OUT")
wait_until 5 "the clock passes T2=$T2" python3 -c 'import sys, time; sys.exit(time.time() < int(sys.argv[1]) + 0.2)' "$T2"
expect_ok kstream-put ts < <(seq -f 'new-%g' 1 300)
expect_ok kstream-get ts -i AT_TIMESTAMP --timestamp "$T2" --ordered
expect_eq "$(seq -f 'new-%g' 1 300 | sort)" "$(sort "$OUT")" "AT_TIMESTAMP across 3 shards"

# --- LATEST: nothing old; following, only what comes next.
expect_ok kstream-get it -i LATEST
expect_empty "$OUT" "LATEST without --follow"
kstream-get it -i LATEST -f >"$WORK/latest.out" 2>"$WORK/latest.err" &
latest=$!
# The follower's start is not observable, so keep putting numbered records
# until it shows one; whatever it shows must be new, and complete from there.
i=0
while ! has_lines 1 "$WORK/latest.out"; do
  i=$((i + 1))
  if ((i > 40)); then fail "LATEST follower printed nothing after 40 puts"; fi
  kstream-put it -k one <<<"new-$i"
  sleep 0.25
done
expect_ok kstream-put it -k one <<<"new-final"
wait_until 10 "LATEST follower prints new-final" grep -qx new-final "$WORK/latest.out"
kill -TERM "$latest"
wait_exit 10 "$latest"
expect_eq 0 "$STATUS" "LATEST follower's exit status"
expect_not_contains "$WORK/latest.out" "b1-"
expect_not_contains "$WORK/latest.out" "b2-"
first=$(head -n 1 "$WORK/latest.out")
first_n=${first#new-}
expect_eq "$( (seq -f 'new-%g' "$first_n" "$i"; echo new-final) )" "$(cat "$WORK/latest.out")" "LATEST follower output"
expect_empty "$WORK/latest.err"

# --- -n / --limit.
expect_ok kstream-get it -n 3
expect_eq $'b1-1\nb1-2\nb1-3' "$(cat "$OUT")" "-n 3"
expect_ok kstream-get it --limit 0
expect_empty "$OUT" "--limit 0"
total=$(count_records it)
expect_ok kstream-get it -n 100000
expect_lines "$total" "$OUT"
expect_ok kstream-get it -n 2 -i AFTER_SEQUENCE_NUMBER --sequence-number "$s3"
expect_eq $'b1-4\nb1-5' "$(cat "$OUT")" "-n 2 after b1-3"
expect_ok kstream-get it -n 1 -i AT_TIMESTAMP --timestamp "$T"
expect_eq "b2-1" "$(cat "$OUT")" "-n 1 at T"
expect_ok kstream-get ts -n 450 --ordered
expect_lines 450 "$OUT"
expect_ok kstream-get ts -n 450
expect_lines 450 "$OUT"
expect_ok kstream-get ts -n 5 --json
expect_lines 5 "$OUT"
# With --follow, -n ends the reader on its own: enough old records...
expect_ok timeout 10 kstream-get it -f -n 4
expect_eq $'b1-1\nb1-2\nb1-3\nb1-4' "$(cat "$OUT")" "-f -n 4"
# ...or once enough new ones arrive.
kstream-get it -f -n $((total + 2)) >"$WORK/limit.out" 2>"$WORK/limit.err" &
lim=$!
wait_until 10 "limited follower catches up" has_lines "$total" "$WORK/limit.out"
expect_ok kstream-put it -k one < <(printf 'more-1\nmore-2\nmore-3\n')
wait_exit 10 "$lim"
expect_eq 0 "$STATUS" "limited follower's exit status"
expect_lines $((total + 2)) "$WORK/limit.out"
expect_eq $'more-1\nmore-2' "$(tail -n 2 "$WORK/limit.out")" "last records of the limited follower"

finish
