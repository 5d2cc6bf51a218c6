#!/usr/bin/env bash
# kstream-deliver: for each compression the files decompress with the
# standard CLI (gzip -d, zstd -d, lz4 -d) to exactly the records put; layout
# and names; --json and delimiters; a restart delivers only what is new; an
# idle stream's partial buffer is written when its interval passes; dynamic
# partitioning sends records without the field under errors/, and records
# beyond --max-partitions under errors/activePartitionExceeded/; two instances
# on a 4-shard stream both deliver and no record appears twice; usage and
# target errors.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

for cli in gzip zstd lz4; do
  command -v "$cli" >/dev/null || fail "$cli is missing (scripts/deps installs it)"
done

# unpack DIR: the records of every final file under DIR, by the standard
# CLI of its extension, concatenated (state under .kstream-deliver skipped).
unpack() {
  find "$1" -path "$1/.kstream-deliver" -prune -o -type f -print | sort | while read -r f; do
    case $f in
      *.gz) gzip -dc "$f" ;;
      *.zst) zstd -qdc "$f" ;;
      *.lz4) lz4 -qdc "$f" ;;
      *) cat "$f" ;;
    esac
  done
}
files_in() { find "$1" -path "$1/.kstream-deliver" -prune -o -type f -print | wc -l | tr -d ' '; }

# Records with spaces, quotes, unicode and a few of them long.
python3 -c '
import random
random.seed(7)
for i in range(20000):
    pad = "x" * random.choice([0, 5, 50, 2000]) if i % 97 == 0 else ""
    print("{\"n\": %d, \"who\": \"caf\u00e9 \\\"%d\\\"\", \"pad\": \"%s\"}" % (i, i % 13, pad))
' >"$WORK/input"
sort "$WORK/input" >"$WORK/input.sorted"
kstream create logs --shards 4 >/dev/null
kstream-put logs --key-field n <"$WORK/input"

# --- Each codec: the standard CLI reads the files; the multiset is equal.
for codec in none gzip zstd lz4; do
  mkdir "$WORK/$codec"
  expect_ok kstream-deliver logs --to "$WORK/$codec" --compress "$codec" --buffer-size 64KiB \
    --until-caught-up --stats
  expect_contains "$ERR" "20000 records"
  unpack "$WORK/$codec" | sort >"$WORK/$codec.out"
  expect_same_file "$WORK/input.sorted" "$WORK/$codec.out" "$codec files hold the records put"
  expect_ge 8 "$(files_in "$WORK/$codec")"
  case $codec in
    gzip) ext=.gz ;; zstd) ext=.zst ;; lz4) ext=.lz4 ;; none) ext= ;;
  esac
  # Every name: <stream>-YYYY-MM-DD-HH-MM-SS-shardId-N-FIRST-LAST<ext> under YYYY/MM/DD/HH/.
  bad=$(find "$WORK/$codec" -path "*/.kstream-deliver" -prune -o -type f -print |
    sed "s|^$WORK/$codec/||" |
    grep -Evc "^[0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{2}/logs-[0-9]{4}(-[0-9]{2}){5}-shardId-[0-9]{12}-[0-9]+-[0-9]+${ext//./\\.}\$" || true)
  expect_eq 0 "$bad" "$codec file names follow the layout"
done
# zstd -t / gzip -t / lz4 -t: every frame is whole.
expect_ok bash -c "find '$WORK/zstd' -name '*.zst' -print0 | xargs -0 zstd -qt"
expect_ok bash -c "find '$WORK/gzip' -name '*.gz' -print0 | xargs -0 gzip -t"
expect_ok bash -c "find '$WORK/lz4' -name '*.lz4' -print0 | xargs -0 -n1 lz4 -qt"

# --- A second run has nothing to do; new records make new files only.
before=$(files_in "$WORK/zstd")
expect_ok kstream-deliver logs --to "$WORK/zstd" --compress zstd --until-caught-up
expect_eq "$before" "$(files_in "$WORK/zstd")" "a run without new records writes no file"
printf 'late-1\nlate-2\n' | kstream-put logs
expect_ok kstream-deliver logs --to "$WORK/zstd" --compress zstd --until-caught-up
{ cat "$WORK/input"; printf 'late-1\nlate-2\n'; } | sort >"$WORK/all.sorted"
unpack "$WORK/zstd" | sort >"$WORK/zstd.out"
expect_same_file "$WORK/all.sorted" "$WORK/zstd.out" "the restart added only the new records"

# --- --json envelopes, --delimiter, --no-delimiter.
kstream create small >/dev/null
printf 'a\nb b\nc\n' | kstream-put small
mkdir "$WORK/json" "$WORK/tab" "$WORK/raw"
expect_ok kstream-deliver small --to "$WORK/json" --json --compress gzip --until-caught-up
expect_py "--json files hold envelopes" '
import base64, json, sys
rows = [json.loads(l) for l in sys.stdin.read().splitlines()]
assert sorted(base64.b64decode(r["Data"]).decode() for r in rows) == ["a", "b b", "c"], rows
assert all(r["ShardId"] == "shardId-000000000000" and r["SequenceNumber"] and r["PartitionKey"] for r in rows)
' < <(unpack "$WORK/json")
expect_ok kstream-deliver small --to "$WORK/tab" --delimiter '\t' --until-caught-up
expect_eq "a	b b	c	" "$(unpack "$WORK/tab")" "--delimiter '\\t'"
expect_ok kstream-deliver small --to "$WORK/raw" --no-delimiter --until-caught-up
expect_eq "ab bc" "$(unpack "$WORK/raw")" "--no-delimiter"

# --- An idle stream: a partial buffer is written once its interval passes.
kstream create idle --shards 2 >/dev/null
mkdir "$WORK/idle"
kstream-deliver idle --to "$WORK/idle" --compress lz4 --buffer-interval 1s \
  2>"$WORK/idle.err" &
idle_pid=$!
printf 'i1\ni2\ni3\n' | kstream-put idle
wait_until 20 "the interval flush of an idle stream" \
  bash -c "[[ \$(find '$WORK/idle' -name '*.lz4' | wc -l) -ge 1 ]] && (( \$(find '$WORK/idle' -name '*.lz4' -exec lz4 -qdc {} \; | wc -l) == 3 ))"
expect_eq "i1 i2 i3" "$(unpack "$WORK/idle" | sort | tr '\n' ' ' | sed 's/ $//')" "idle flush content"
kill -TERM "$idle_pid"
wait_exit 20 "$idle_pid"
expect_eq 0 "$STATUS" "SIGTERM: exit 0"
expect_eq "" "$(kstream group idle "$(ls "$WORK/idle/.kstream-deliver")" --json |
  python3 -c 'import json,sys; print(" ".join(s["LeaseOwner"] for s in json.load(sys.stdin)["Shards"] if s["LeaseOwner"]))')" \
  "the stopped instance released its leases"

# SIGTERM flushes what is buffered (interval far away).
kstream create term >/dev/null
mkdir "$WORK/term"
kstream-deliver term --to "$WORK/term" --buffer-interval 1h 2>"$WORK/term.err" &
term_pid=$!
printf 't1\nt2\n' | kstream-put term
wait_until 20 "the instance to read both records" \
  bash -c "kstream group term \$(ls '$WORK/term/.kstream-deliver') --json | grep -q LeaseOwner"
sleep 0.5
kill -TERM "$term_pid"
wait_exit 20 "$term_pid"
expect_eq 0 "$STATUS" "SIGTERM with a buffer: exit 0"
expect_eq "t1 t2" "$(unpack "$WORK/term" | sort | tr '\n' ' ' | sed 's/ $//')" "SIGTERM flushed the buffer"

# --- Dynamic partitioning; a record without the field goes under errors/.
kstream create orders >/dev/null
printf '%s\n' '{"customer_id":"acme","n":1}' '{"n":2}' '{"customer_id":"zeta","n":3}' \
  'not json' '{"customer_id":"acme","n":4}' | kstream-put orders
mkdir "$WORK/orders"
expect_ok kstream-deliver orders --to "$WORK/orders" --compress zstd \
  --prefix 'customer=!{field:customer_id}/!{timestamp:yyyy}/' --until-caught-up --stats
expect_contains "$ERR" "2 under errors/"
expect_eq 2 "$(zstd -qdc "$WORK"/orders/customer=acme/*/*.zst | wc -l | tr -d ' ')" "acme's records"
expect_eq '{"customer_id":"zeta","n":3}' "$(zstd -qdc "$WORK"/orders/customer=zeta/*/*.zst)" "zeta's record"
expect_py "errors/ documents carry the reason and the record" '
import base64, json, sys
docs = [json.loads(l) for l in sys.stdin.read().splitlines()]
got = sorted((d["errorCode"], base64.b64decode(d["rawData"]).decode()) for d in docs)
assert got == [("InvalidJson", "not json"), ("PartitionKeyMissing", "{\"n\":2}")], got
assert all("customer_id" in d["errorMessage"] or "JSON" in d["errorMessage"] for d in docs), docs
' < <(find "$WORK/orders/errors/partitioning-failed" -name '*.zst' -exec zstd -qdc {} +)

# --- --max-partitions 1: zeta's record would be a second active partition.
mkdir "$WORK/orders1"
expect_ok kstream-deliver orders --to "$WORK/orders1" --compress zstd --max-partitions 1 \
  --prefix 'customer=!{field:customer_id}/!{timestamp:yyyy}/' --until-caught-up --stats
expect_contains "$ERR" "3 under errors/"
expect_eq 2 "$(zstd -qdc "$WORK"/orders1/customer=acme/*/*.zst | wc -l | tr -d ' ')" "acme's records (limit 1)"
expect_eq 0 "$(find "$WORK/orders1" -path '*customer=zeta*' | wc -l | tr -d ' ')" "no zeta partition (limit 1)"
expect_py "errors/activePartitionExceeded/ holds zeta's record" '
import base64, json, sys
docs = [json.loads(l) for l in sys.stdin.read().splitlines()]
assert [(d["errorCode"], base64.b64decode(d["rawData"]).decode()) for d in docs] == \
    [("ActivePartitionExceeded", "{\"customer_id\":\"zeta\",\"n\":3}")], docs
assert "customer=zeta/" in docs[0]["errorMessage"], docs
' < <(find "$WORK/orders1/errors/activePartitionExceeded" -name '*.zst' -exec zstd -qdc {} +)
expect_eq 2 "$(find "$WORK/orders1/errors/partitioning-failed" -name '*.zst' -exec zstd -qdc {} + | wc -l | tr -d ' ')" "unroutable records (limit 1)"

# --- Two instances on a 4-shard stream: both deliver, nothing twice.
kstream create pair --shards 4 >/dev/null
seq 1 20000 | sed 's/^/p/' | kstream-put pair
mkdir "$WORK/pair"
for w in one two; do
  kstream-deliver pair --to "$WORK/pair" --name pairs --compress zstd --buffer-size 16KiB \
    --worker "$w" --lease-timeout 2s --buffer-interval 1s -v 2>"$WORK/$w.err" &
  eval "$w=\$!"
done
# Once they hold two shards each, more records go to both.
two_each() {
  [[ $(kstream group pair pairs --json | python3 -c '
import collections, json, sys
c = collections.Counter(s["LeaseOwner"] for s in json.load(sys.stdin)["Shards"] if s["LeaseLive"])
print(sorted(c.items()))') == "[('one', 2), ('two', 2)]" ]]
}
wait_until 40 "two shards each" two_each
seq 20001 40000 | sed 's/^/p/' | kstream-put pair
wait_until 40 "both instances to deliver all 40000 records" \
  bash -c "(( \$(find '$WORK/pair' -name '*.zst' -exec zstd -qdc {} + | wc -l) >= 40000 ))"
kill -TERM "$one" "$two"
wait_exit 20 "$one"
expect_eq 0 "$STATUS" "instance one exit"
wait_exit 20 "$two"
expect_eq 0 "$STATUS" "instance two exit"
unpack "$WORK/pair" | sort >"$WORK/pair.out"
seq 1 40000 | sed 's/^/p/' | sort >"$WORK/pair.want"
expect_same_file "$WORK/pair.want" "$WORK/pair.out" "two instances: every record exactly once"
for w in one two; do
  n=$(sed -n 's/^kstream-deliver: \([0-9]*\) records.*/\1/p' "$WORK/$w.err")
  expect_ge 1 "${n:-0}" "records delivered by instance $w"
done

# --- Errors: usage (2), target missing or not a directory (1), stream missing (1).
mkdir "$WORK/t"
expect_exit 2 kstream-deliver logs
expect_exit 2 kstream-deliver logs --to "$WORK/t" --compress bzip2
expect_contains "$ERR" "unknown compression 'bzip2'"
expect_exit 2 kstream-deliver logs --to "$WORK/t" --compress zstd --level 40
expect_contains "$ERR" "--level for zstd must be"
expect_exit 2 kstream-deliver logs --to "$WORK/t" --json --no-delimiter
expect_exit 2 kstream-deliver logs --to "$WORK/t" --prefix 'a/../b/'
expect_exit 2 kstream-deliver logs --to "$WORK/t" --prefix '!{what:x}/'
expect_contains "$ERR" "unknown expression"
expect_exit 2 kstream-deliver logs --to "$WORK/t" --buffer-size lots
expect_exit 2 kstream-deliver logs --to "$WORK/t" --max-partitions 0
expect_contains "$ERR" "--max-partitions must be at least 1"
expect_exit 1 kstream-deliver logs --to "$WORK/missing" --until-caught-up
expect_contains "$ERR" "kstream-deliver: error: target directory '$WORK/missing' does not exist"
touch "$WORK/afile"
expect_exit 1 kstream-deliver logs --to "$WORK/afile" --until-caught-up
expect_contains "$ERR" "not a usable directory"
expect_exit 1 kstream-deliver nosuch --to "$WORK/t" --until-caught-up
expect_contains "$ERR" "nosuch"
expect_ok kstream-deliver --help
expect_contains "$OUT" "Examples:"
finish
