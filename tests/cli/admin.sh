#!/usr/bin/env bash
# kstream create / list / describe / retention / delete, and where the store is.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

# --- An empty store.
expect_ok kstream list
expect_empty "$OUT" "kstream list on an empty store"
expect_ok kstream list --json
expect_py "list --json on an empty store" '
import json, sys
assert json.load(open(sys.argv[1]))["StreamNames"] == []
' "$OUT"

# --- create, with various shard counts (not only powers of two).
expect_ok kstream create one
expect_contains "$ERR" "one"
expect_empty "$OUT" "kstream create printed on stdout"
expect_ok kstream create three --shards 3 --retention 48
expect_ok kstream create seven --shards 7
expect_ok kstream create many --shards 1000
expect_ok kstream create Mixed_Case.name-1

expect_ok kstream list
expect_eq $'Mixed_Case.name-1\nmany\none\nseven\nthree' "$(sort "$OUT")" "kstream list"
expect_lines 5 "$OUT"
expect_ok kstream list --json
expect_py "list --json names every stream once" '
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(d["StreamNames"]) == sorted(["Mixed_Case.name-1", "many", "one", "seven", "three"]), d
' "$OUT"

# Put records (random keys) and check describe --json against them.
expect_ok kstream-put seven < <(seq -f 'rec-%g' 1 7000)
expect_ok kstream-put three -k fixed < <(seq 1 10)
expect_ok kstream-put one < <(printf 'x\n')

check_describe() {  # NAME SHARDS RETENTION
  local name=$1 shards=$2 retention=$3
  expect_ok kstream describe "$name" --json
  cp "$OUT" "$WORK/describe-$name.json"
  expect_empty "$ERR" "describe --json wrote to stderr"
  expect_ok kstream-get "$name" --json
  cp "$OUT" "$WORK/get-$name.json"
  expect_py "describe $name --json: shape, hash key tiling, record counts" '
import json, sys
desc_file, get_file, name, nshards, retention = sys.argv[1:6]
d = json.load(open(desc_file))
assert list(d) == ["StreamDescription"], list(d)
s = d["StreamDescription"]
assert s["StreamName"] == name, s["StreamName"]
assert s["StreamARN"].endswith(":stream/" + name), s["StreamARN"]
assert s["StreamStatus"] == "ACTIVE", s["StreamStatus"]
assert s["HasMoreShards"] is False
assert s["RetentionPeriodHours"] == int(retention), s["RetentionPeriodHours"]
assert s["EncryptionType"] == "NONE"
assert isinstance(s["StreamCreationTimestamp"], (int, float)) and s["StreamCreationTimestamp"] > 1.5e9
assert "StreamModeDetails" in s and "EnhancedMonitoring" in s
shards = s["Shards"]
assert len(shards) == int(nshards), len(shards)
# Hash key ranges tile 0 .. 2^128-1 with no gap or overlap.
ranges = sorted((int(x["HashKeyRange"]["StartingHashKey"]), int(x["HashKeyRange"]["EndingHashKey"])) for x in shards)
assert ranges[0][0] == 0, ranges[0]
assert ranges[-1][1] == 2**128 - 1, ranges[-1]
for (a, b), (c, _) in zip(ranges, ranges[1:]):
    assert c == b + 1, ("gap or overlap", b, c)
for a, b in ranges:
    assert a <= b
# Shard ids, open shards, and what kstream-get read.
counts, last = {}, {}
for line in open(get_file):
    r = json.loads(line)
    counts[r["ShardId"]] = counts.get(r["ShardId"], 0) + 1
    last[r["ShardId"]] = r["SequenceNumber"]
for i, x in enumerate(shards):
    assert x["ShardId"] == "shardId-%012d" % i, x["ShardId"]
    assert "ParentShardId" not in x and "AdjacentParentShardId" not in x, x
    seqr = x["SequenceNumberRange"]
    assert "EndingSequenceNumber" not in seqr, "a new shard is open"
    start = int(seqr["StartingSequenceNumber"])
    assert x["Records"] == counts.get(x["ShardId"], 0), (x["ShardId"], x["Records"], counts.get(x["ShardId"]))
    if x["Records"]:
        assert x["LastSequenceNumber"] == last[x["ShardId"]], x
        assert int(x["LastSequenceNumber"]) > start
        assert x["Bytes"] > 0 and x["Segments"] >= 1, x
    else:
        assert "LastSequenceNumber" not in x, x
    for k in ("Records", "Bytes", "Segments"):
        assert isinstance(x[k], int) and x[k] >= 0, (k, x)
total = sum(x["Records"] for x in shards)
assert total == sum(counts.values()), (total, counts)
print(total)
' "$WORK/describe-$name.json" "$WORK/get-$name.json" "$name" "$shards" "$retention"
}
check_describe one 1 24
check_describe three 3 48
check_describe seven 7 24
check_describe many 1000 24
check_describe Mixed_Case.name-1 1 24
expect_py "Records sum to what was put" '
import json, sys
for path, want in zip(sys.argv[1::2], sys.argv[2::2]):
    d = json.load(open(path))["StreamDescription"]
    total = sum(x["Records"] for x in d["Shards"])
    assert total == int(want), (path, total, want)
' "$WORK/describe-seven.json" 7000 "$WORK/describe-three.json" 10 "$WORK/describe-one.json" 1 \
  "$WORK/describe-many.json" 0
expect_py "random keys spread over all 7 shards" '
import json, sys
d = json.load(open(sys.argv[1]))["StreamDescription"]
assert all(x["Records"] > 0 for x in d["Shards"]), [x["Records"] for x in d["Shards"]]
' "$WORK/describe-seven.json"

# The human table.
expect_ok kstream describe seven
cp "$OUT" "$WORK/describe-seven.txt"
expect_contains "$WORK/describe-seven.txt" "seven"
expect_contains "$WORK/describe-seven.txt" "7000"
expect_contains "$WORK/describe-seven.txt" "24 h"
for i in 0 1 2 3 4 5 6; do
  expect_contains "$WORK/describe-seven.txt" "shardId-00000000000$i"
done
expect_eq 7 "$(grep -c '^shardId-.* open ' "$WORK/describe-seven.txt")" "open shards in the table"
expect_contains "$WORK/describe-seven.txt" "340282366920938463463374607431768211455"

# --- retention.
expect_ok kstream retention seven 72
expect_ok kstream describe seven --json
expect_py "retention 72" 'import json,sys; assert json.load(open(sys.argv[1]))["StreamDescription"]["RetentionPeriodHours"] == 72' "$OUT"
expect_ok kstream retention seven 8760
expect_ok kstream describe seven
expect_contains "$OUT" "8760 h"
expect_ok kstream retention seven 24
expect_ok kstream describe seven --json
expect_py "retention back to 24, records untouched" '
import json, sys
s = json.load(open(sys.argv[1]))["StreamDescription"]
assert s["RetentionPeriodHours"] == 24 and sum(x["Records"] for x in s["Shards"]) == 7000, s
' "$OUT"
expect_eq 7000 "$(count_records seven)" "records after retention changes"

# --- delete.
expect_ok kstream delete seven
expect_contains "$ERR" "seven"
expect_ok kstream list
expect_eq $'Mixed_Case.name-1\nmany\none\nthree' "$(sort "$OUT")" "kstream list after delete"
expect_exit 1 kstream describe seven
expect_contains "$ERR" "does not exist"
expect_exit 1 kstream-get seven
expect_exit 1 kstream-put seven </dev/null
expect_exit 1 kstream delete seven
# The name can be used again, and the new stream is empty.
expect_ok kstream create seven --shards 2
expect_ok kstream-get seven
expect_empty "$OUT" "a re-created stream"
check_describe seven 2 24
# Delete while a follower waits on it: the follower ends (no hang).
kstream-get seven -f >"$WORK/del-follow.out" 2>"$WORK/del-follow.err" &
follower=$!
expect_ok kstream-put seven -k a <<<"before-delete"
wait_until 10 "follower prints before-delete" grep -qx before-delete "$WORK/del-follow.out"
expect_ok kstream delete seven
wait_exit 20 "$follower"
expect_eq 1 "$STATUS" "exit status of a follower whose stream was deleted"
expect_contains "$WORK/del-follow.err" "kstream-get: error:"
for name in many one three Mixed_Case.name-1; do
  expect_ok kstream delete "$name"
done
expect_ok kstream list
expect_empty "$OUT" "kstream list after deleting everything"

# --- Where the store is: --home, $KSTREAM_HOME, $XDG_DATA_HOME/kstream, ~/.local/share/kstream.
expect_ok kstream --home "$WORK/h1" create at-home
expect_ok kstream list --home "$WORK/h1"  # also after the command
expect_eq "at-home" "$(cat "$OUT")" "--home"
expect_ok kstream list
expect_empty "$OUT" "--home did not touch \$KSTREAM_HOME"
expect_ok kstream-put --home "$WORK/h1" at-home <<<"homed"
expect_ok kstream-get at-home --home "$WORK/h1"
expect_eq "homed" "$(cat "$OUT")" "put/get --home"
expect_ok env KSTREAM_HOME="$WORK/h1" kstream-get at-home
expect_eq "homed" "$(cat "$OUT")" "KSTREAM_HOME"
expect_ok env -u KSTREAM_HOME XDG_DATA_HOME="$WORK/xdg" kstream create in-xdg
expect_ok kstream --home "$WORK/xdg/kstream" list
expect_eq "in-xdg" "$(cat "$OUT")" "\$XDG_DATA_HOME/kstream"
expect_ok env -u KSTREAM_HOME -u XDG_DATA_HOME HOME="$WORK/fakehome" kstream create in-home
expect_ok kstream --home "$WORK/fakehome/.local/share/kstream" list
expect_eq "in-home" "$(cat "$OUT")" "\$HOME/.local/share/kstream"
# --home wins over the environment.
expect_ok env KSTREAM_HOME="$WORK/xdg/kstream" kstream --home "$WORK/h1" list
expect_eq "at-home" "$(cat "$OUT")" "--home over KSTREAM_HOME"

# --- A stream that was created is listed (whatever its valid name).
# ("--" ends the options, for a name that starts with "-".)
for name in _under -dash 9digits a.b.c .dot-first; do
  rc=0
  kstream create -- "$name" 2>/dev/null || rc=$?
  if [[ $rc == 0 ]]; then
    expect_ok kstream list
    expect_contains "$OUT" "$name"
    expect_ok kstream list --json
    expect_contains "$OUT" "\"$name\""
    expect_ok kstream-put -- "$name" <<<"in $name"
    expect_ok kstream-get -- "$name"
    expect_eq "in $name" "$(cat "$OUT")" "records of '$name'"
    expect_ok kstream delete -- "$name"
  else
    expect_eq 2 "$rc" "kstream create '$name' refused, as a usage error"
  fi
done

finish
