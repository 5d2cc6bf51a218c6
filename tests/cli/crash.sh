#!/usr/bin/env bash
# kill -9 of a writer: every record kstream-put --print reported as written
# survives with the sequence number it printed, nothing is stored twice or
# after a gap, and the next writer works after the torn tail.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

# A slow, bounded generator: "<tag>-<i>" lines with short sleeps, flushed one
# by one. It ends quietly when its reader goes away.
slow_gen() {
  python3 -c '
import sys, time
tag, n = sys.argv[1], int(sys.argv[2])
try:
    for i in range(1, n + 1):
        sys.stdout.write("%s-%d\n" % (tag, i))
        sys.stdout.flush()
        time.sleep(0.002 if i % 7 else 0.01)
except BrokenPipeError:
    pass
' "$@"
}

# A fast, bounded generator of big lines ("<tag>-<i>-xxxx..."), so writes are
# large and a kill can land in the middle of one.
fast_gen() {
  python3 -c '
import sys
tag, n = sys.argv[1], int(sys.argv[2])
pad = "x" * 4000
try:
    for i in range(1, n + 1):
        sys.stdout.write("%s-%d-%s\n" % (tag, i, pad))
except BrokenPipeError:
    pass
' "$@"
}

expect_ok kstream create c --shards 2
TAGS=()

# Several crashes in a row, at different points, each followed by a new
# writer; the fixed key keeps everything in one shard in input order.
for ((round = 1; round <= 4; round++)); do
  slow_gen "r$round" 20000 |
    kstream-put c -k fixed --sync always --print >"$WORK/printed-r$round" 2>"$WORK/put.err" &
  writer=$!
  want=$((round * 150))
  wait_until 20 "round $round: writer reports $want records" has_lines "$want" "$WORK/printed-r$round"
  kill -KILL "$writer"
  wait_exit 10 "$writer"
  expect_eq 137 "$STATUS" "round $round: writer killed by SIGKILL"
  { wait; } 2>/dev/null  # the generator ends once its pipe is gone
  TAGS+=("r$round")
done

# Big fast writes (--sync always and batch), killed mid-stream.
for mode in always batch; do
  fast_gen "burst$mode" 200000 |
    kstream-put c -k fixed --sync "$mode" --print >"$WORK/printed-burst$mode" 2>"$WORK/put.err" &
  writer=$!
  wait_until 30 "burst writer (--sync $mode) reports 2000 records" has_lines 2000 "$WORK/printed-burst$mode"
  kill -KILL "$writer"
  wait_exit 10 "$writer"
  expect_eq 137 "$STATUS" "burst writer (--sync $mode) killed by SIGKILL"
  { wait; } 2>/dev/null
  TAGS+=("burst$mode")
done

# A writer on a fifo, killed while blocked reading: nothing it reported is lost.
mkfifo "$WORK/fifo"
kstream-put c -k fixed --sync always --print <"$WORK/fifo" >"$WORK/printed-fifo" 2>"$WORK/put.err" &
writer=$!
exec 4>"$WORK/fifo"
printf 'fifo-%d\n' 1 2 3 >&4
wait_until 10 "fifo writer reports 3 records" has_lines 3 "$WORK/printed-fifo"
kill -KILL "$writer"
wait_exit 10 "$writer"
expect_eq 137 "$STATUS" "fifo writer killed by SIGKILL"
exec 4>&-
TAGS+=(fifo)

expect_ok kstream-get c --json
cp "$OUT" "$WORK/before-tear.json"
expect_empty "$ERR" "kstream-get after the kills wrote to stderr"

# A torn tail made by hand: half a frame appended to the active segment
# (see lib/store/FORMAT.md). Readers stop before it; the next writer cuts it.
shard=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["ShardId"])' \
  "$WORK/printed-fifo")
segment=$(find "$KSTREAM_HOME/streams/c/shards/$shard" -name '*.seg' | sort | tail -n 1)
expect_ne "" "$segment" "active segment of $shard"
python3 -c '
import struct, sys
body_len = 200
with open(sys.argv[1], "ab") as f:
    f.write(struct.pack("<II", 0x12345678, body_len) + b"\x01\x00" + b"torn" * 10)
' "$segment"
expect_ok kstream-get c --json
expect_same_file "$WORK/before-tear.json" "$OUT" "get output with a torn tail"
expect_empty "$ERR" "kstream-get with a torn tail wrote to stderr"

# A writer after all that.
expect_ok kstream-put c -k fixed --print < <(printf 'after-%d\n' 1 2 3)
cp "$OUT" "$WORK/printed-after"
expect_lines 3 "$WORK/printed-after"
TAGS+=(after)

expect_ok kstream-get c --json
cp "$OUT" "$WORK/all.json"
expect_empty "$ERR" "kstream-get after the new writer wrote to stderr"

expect_py "every printed record is stored with its printed sequence number; each writer left a gap-free prefix" '
import base64, json, sys
work, tags = sys.argv[1], sys.argv[2:]
stored = {}          # (shard, seq) -> data
order = []
for line in open(work + "/all.json"):
    r = json.loads(line)
    key = (r["ShardId"], r["SequenceNumber"])
    assert key not in stored, ("sequence number twice", key)
    d = base64.b64decode(r["Data"]).decode()
    stored[key] = d
    order.append((int(r["SequenceNumber"]), d))
seqs = [s for s, _ in order]
assert seqs == sorted(seqs), "get output not in sequence order"
assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "sequence numbers have a gap"
data = [d.split("-")[:2] for _, d in order]
pos = 0
for tag in tags:
    printed = [json.loads(l) for l in open("%s/printed-%s" % (work, tag))]
    for i, p in enumerate(printed, 1):
        assert set(p) == {"ShardId", "SequenceNumber"}, p
        key = (p["ShardId"], p["SequenceNumber"])
        assert key in stored, ("printed but not stored", tag, i, key)
        assert stored[key].split("-")[:2] == [tag, str(i)], ("wrong record at", key, stored[key][:40], tag, i)
    # The stored records of this writer: <tag>-1, <tag>-2, ... with no gap,
    # at least as many as were printed (more may be written but unreported).
    i = 0
    while pos < len(data) and data[pos][0] == tag:
        i += 1
        assert data[pos][1] == str(i), ("gap or reorder in", tag, data[pos], i)
        pos += 1
    assert i >= len(printed), (tag, "stored", i, "printed", len(printed))
    print(tag, "printed", len(printed), "stored", i, file=sys.stderr)
assert pos == len(data), ("unexpected records", data[pos:pos + 3])
' "$WORK" "${TAGS[@]}"

# A clean stop (SIGTERM, SIGINT) is not a crash: exit 0, and every record it
# wrote was also reported.
for sig in TERM INT; do
  expect_ok kstream create "stop$sig"
  slow_gen "stop$sig" 20000 |
    "${SIGINT_DEFAULT[@]}" kstream-put "stop$sig" -k fixed --print >"$WORK/printed-stop$sig" 2>"$WORK/stop.err" &
  writer=$!
  wait_until 20 "writer reports 100 records" has_lines 100 "$WORK/printed-stop$sig"
  kill -"$sig" "$writer"
  wait_exit 10 "$writer"
  expect_eq 0 "$STATUS" "writer's exit status after SIG$sig"
  { wait; } 2>/dev/null
  expect_empty "$WORK/stop.err" "writer stopped by SIG$sig wrote to stderr"
  expect_ok kstream-get "stop$sig" --json
  expect_py "after SIG$sig: stored records are exactly the reported ones" '
import base64, json, sys
stored = [(r["SequenceNumber"], base64.b64decode(r["Data"]).decode()) for r in map(json.loads, open(sys.argv[1]))]
printed = [json.loads(l)["SequenceNumber"] for l in open(sys.argv[2])]
assert [s for s, _ in stored] == printed, (len(stored), len(printed))
assert [d for _, d in stored] == ["%s-%d" % (sys.argv[3], i) for i in range(1, len(stored) + 1)]
' "$OUT" "$WORK/printed-stop$sig" "stop$sig"
done

# Plain output agrees, and the stream is still writable with random keys.
expect_ok kstream-put c < <(seq -f 'final-%g' 1 1000)
expect_ok kstream-get c
expect_eq 1000 "$(grep -c '^final-' "$OUT")" "final records read back"
expect_empty "$ERR"
expect_ok kstream describe c --json
expect_py "describe counts every stored record" '
import json, sys
d = json.load(open(sys.argv[1]))["StreamDescription"]
n = sum(1 for _ in open(sys.argv[2]))
total = sum(s["Records"] for s in d["Shards"])
assert total == n + 1000, (total, n)
' "$OUT" "$WORK/all.json"

finish
