#!/usr/bin/env bash
# Round trips through kstream-put and kstream-get: line mode (fixed and random
# partition keys), NUL-delimited mode, and the JSON envelope fed back into
# kstream-put --json.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

# 100,000 lines, with the awkward ones spread through the file.
python3 - "$WORK/lines.txt" <<'EOF'
import random, sys
rng = random.Random(42)
special = [
    b"tab\there\tand\tthere",
    b"double \"quotes\" and 'single' ones",
    b"back\\slash\\\\ and \\n not a newline",
    "non-ASCII UTF-8: h\u00e9llo w\u00f6rld \u65e5\u672c\u8a9e \U0001F600 \u00df".encode(),
    b"",                                  # an empty line
    b"      ",                            # only spaces
    b"x" * 100 * 1024,                    # ~100 KiB
    b"carriage\rreturn inside",
    b"raw bytes \xff\xfe\x80 (not UTF-8)",
    b"{\"looks\": \"like json\"}",
    b"   leading and trailing spaces   ",
]
n = 100000
lines = []
for i in range(n):
    lines.append(b"line %d %s" % (i, bytes(rng.choice(b"abcdefghij \t\"\\,;") for _ in range(rng.randrange(0, 60)))))
# Put each special line at several places (start, middle, end).
for j, s in enumerate(special):
    for pos in (j, n // 2 + j, n - 1 - j):
        lines[pos] = s
with open(sys.argv[1], "wb") as f:
    f.write(b"".join(l + b"\n" for l in lines))
EOF
expect_lines 100000 "$WORK/lines.txt"
LC_ALL=C sort "$WORK/lines.txt" >"$WORK/lines.sorted"

expect_ok kstream create fixed --shards 4
expect_ok kstream create random --shards 4

# --- A fixed partition key: one shard, so the order is kept exactly.
expect_ok kstream-put fixed -k the-key <"$WORK/lines.txt"
expect_empty "$ERR" "kstream-put -k wrote to stderr"
expect_ok kstream-get fixed
cp "$OUT" "$WORK/fixed.out"
expect_same_file "$WORK/lines.txt" "$WORK/fixed.out" "fixed key: get output"
expect_ok kstream-get fixed --ordered
expect_same_file "$WORK/lines.txt" "$OUT" "fixed key: get --ordered output"
# Exactly one shard holds everything.
expect_ok kstream-get fixed --json
expect_py "fixed key: one shard, one key, increasing sequence numbers" '
import json, sys
shards, keys, last = set(), set(), 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    shards.add(r["ShardId"]); keys.add(r["PartitionKey"])
    seq = int(r["SequenceNumber"])
    assert seq > last, ("sequence numbers not increasing", last, seq)
    last = seq
assert len(shards) == 1 and keys == {"the-key"}, (shards, keys)
' "$OUT"

# --- Random partition keys: spread over the shards; compare sorted.
expect_ok kstream-put random <"$WORK/lines.txt"
expect_ok kstream-get random --ordered
LC_ALL=C sort "$OUT" >"$WORK/random.sorted"
expect_same_file "$WORK/lines.sorted" "$WORK/random.sorted" "random keys: get --ordered output (sorted)"
expect_ok kstream-get random
LC_ALL=C sort "$OUT" >"$WORK/random.sorted"
expect_same_file "$WORK/lines.sorted" "$WORK/random.sorted" "random keys: get output (sorted)"
expect_ok kstream-get random --ordered --json
cp "$OUT" "$WORK/random.json"
expect_py "random keys: all 4 shards used, distinct keys, --ordered arrival times never decrease" '
import base64, json, sys
per_shard, keys, last_ts, n = {}, set(), 0.0, 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += 1
    per_shard[r["ShardId"]] = per_shard.get(r["ShardId"], 0) + 1
    keys.add(r["PartitionKey"])
    ts = r["ApproximateArrivalTimestamp"]
    assert ts >= last_ts, ("arrival time went back", last_ts, ts)
    last_ts = ts
    base64.b64decode(r["Data"], validate=True)
assert n == 100000, n
assert len(per_shard) == 4 and min(per_shard.values()) > 1000, per_shard
assert len(keys) > 99000, ("random keys repeat too much", len(keys))
' "$WORK/random.json"

# --- The JSON envelope, decoded, is the input (per shard, in order).
expect_py "--json Data decodes to the input lines" '
import base64, json, sys
got = sorted(base64.b64decode(json.loads(l)["Data"]) for l in open(sys.argv[1], "rb"))
want = sorted(open(sys.argv[2], "rb").read().split(b"\n")[:-1])
assert got == want, "decoded data differs from the input"
' "$WORK/random.json" "$WORK/lines.txt"

# --- JSON envelope -> put-records entries -> kstream-put --json: same data,
# same keys, same shards, same order within each shard.
expect_ok kstream create copy --shards 4
# A few records routed by explicit hash key, which the envelope must carry.
expect_ok kstream-put random -k k -E 7 <<<"ehk-low"
expect_ok kstream-put random -k k -E 340282366920938463463374607431768211455 <<<"ehk-high"
expect_ok kstream-get random --json
cp "$OUT" "$WORK/random-all.json"
expect_py "--json envelope carries ExplicitHashKey" '
import json, sys
e = {json.loads(l)["Data"]: json.loads(l) for l in open(sys.argv[1])}
low, high = e["ZWhrLWxvdw=="], e["ZWhrLWhpZ2g="]
assert low.get("ExplicitHashKey") == "7" and low["ShardId"] == "shardId-000000000000", low
assert high.get("ExplicitHashKey") == "340282366920938463463374607431768211455", high
assert high["ShardId"] == "shardId-000000000003", high
assert sum("ExplicitHashKey" in r for r in e.values()) == 2
' "$WORK/random-all.json"
python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    e = {"PartitionKey": r["PartitionKey"], "Data": r["Data"]}
    if "ExplicitHashKey" in r:
        e["ExplicitHashKey"] = r["ExplicitHashKey"]
    sys.stdout.write(json.dumps(e) + "\n")
' <"$WORK/random-all.json" >"$WORK/entries.ndjson"
expect_ok kstream-put copy --json <"$WORK/entries.ndjson"
expect_ok kstream-get copy --json
cp "$OUT" "$WORK/copy.json"
expect_py "copy via kstream-put --json equals the original (shard, key, data, hash key; order per shard)" '
import json, sys
def load(path):
    shards = {}
    for line in open(path):
        r = json.loads(line)
        shards.setdefault(r["ShardId"], []).append(
            (r["PartitionKey"], r["Data"], r.get("ExplicitHashKey")))
    return shards
a, b = load(sys.argv[1]), load(sys.argv[2])
assert sorted(a) == sorted(b), (sorted(a), sorted(b))
for s in a:
    assert len(a[s]) == len(b[s]), (s, len(a[s]), len(b[s]))
    for i, (x, y) in enumerate(zip(a[s], b[s])):
        assert x == y, (s, i, x[:2], y[:2])
assert sum(map(len, a.values())) == 100002
' "$WORK/random-all.json" "$WORK/copy.json"
# The envelope itself goes back in too: kstream-get --json | kstream-put --json.
expect_ok kstream create copy2 --shards 4
kstream-get random --json | kstream-put copy2 --json 2>"$WORK/copy2.err"
expect_eq "0 0" "${PIPESTATUS[*]}" "PIPESTATUS of kstream-get --json | kstream-put --json"
expect_empty "$WORK/copy2.err"
expect_ok kstream-get copy2 --json
cp "$OUT" "$WORK/copy2.json"
expect_py "copy via a direct --json pipe equals the original" '
import json, sys
def load(path):
    shards = {}
    for line in open(path):
        r = json.loads(line)
        shards.setdefault(r["ShardId"], []).append(
            (r["PartitionKey"], r["Data"], r.get("ExplicitHashKey")))
    return shards
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a == b, "copy differs"
' "$WORK/random-all.json" "$WORK/copy2.json"
expect_ok kstream-get copy
grep -v '^ehk-' "$OUT" | LC_ALL=C sort >"$WORK/copy.sorted"
expect_same_file "$WORK/lines.sorted" "$WORK/copy.sorted" "copy: line output (sorted)"

# --- NUL-delimited records that contain newlines.
python3 - "$WORK/records.nul" <<'EOF'
import sys
recs = [b"first\nrecord", b"", b"\n", b"\n\n\n", b"tab\tand\nnewline\r\n",
        "multi\nline \u00fcnic\u00f8de \U0001F680\n".encode(), b"y" * 70000 + b"\n" + b"z" * 3000]
recs += [b"rec %d\nline two of %d\n" % (i, i) for i in range(5000)]
recs += [b"last\n"]
with open(sys.argv[1], "wb") as f:
    f.write(b"".join(r + b"\0" for r in recs))
EOF
expect_ok kstream create nul --shards 2
expect_ok kstream-put nul -0 -k one-key <"$WORK/records.nul"
expect_ok kstream-get nul -0
expect_same_file "$WORK/records.nul" "$OUT" "-0 round trip (fixed key)"
expect_ok kstream-get nul --null --ordered
expect_same_file "$WORK/records.nul" "$OUT" "--null --ordered round trip"
expect_ok kstream-get nul --json
expect_lines 5008 "$OUT"
expect_ok kstream create nulr --shards 3
expect_ok kstream-put nulr --null <"$WORK/records.nul"
expect_ok kstream-get nulr -0
expect_py "-0 round trip (random keys): same multiset of records" '
import sys
a = open(sys.argv[1], "rb").read().split(b"\0")
b = open(sys.argv[2], "rb").read().split(b"\0")
assert a[-1] == b"" and b[-1] == b"", "not NUL-terminated"
assert sorted(a) == sorted(b), (len(a), len(b))
' "$WORK/records.nul" "$OUT"

# --- A last line without its terminator is still a record.
expect_ok kstream create tail
expect_ok kstream-put tail -k k < <(printf 'a\nb')
expect_ok kstream-put tail -k k -0 < <(printf 'c\0d')
expect_ok kstream-get tail
expect_eq $'a\nb\nc\nd' "$(cat "$OUT")" "unterminated last records"
expect_lines 4 "$OUT"

# --- Empty input puts nothing and succeeds.
expect_ok kstream create empty
expect_ok kstream-put empty </dev/null
expect_ok kstream-get empty
expect_empty "$OUT"

finish
