#!/usr/bin/env bash
# kinesis_load, the load client of scripts/bench-serve, against kstream-serve:
# it creates a 4-shard stream, puts COUNT records of 100 bytes with 4
# PutRecords in flight, and reads them back with one GetRecords chain per
# shard; the store then holds exactly those records. A benchmark whose
# client miscounts would report a figure for work not done.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"

LOAD="$KSTREAM_BIN/kinesis_load"
start_serve

expect_ok "$LOAD" "$SERVE_URL" load create 0 1
expect_ok kstream describe load
expect_eq 4 "$(grep -c 'shardId-' "$OUT")" "shards described"

# 2,750 records: five full PutRecords of 500 and one of 250, over 4 workers.
expect_ok "$LOAD" "$SERVE_URL" load put 2750 4
read -r records failed first last cpu <"$OUT"
expect_eq "2750 0" "$records $failed" "records put, failed"
expect_ge "$first" "$last" "end time after start time"
expect_py "client CPU seconds is a number" "assert float('$cpu') >= 0"

kstream-get load >"$WORK/stored.txt"
expect_eq 2750 "$(wc -l <"$WORK/stored.txt")" "records in the store"
expect_eq 1 "$(sort -u "$WORK/stored.txt" | wc -l)" "one distinct payload"
expect_eq "$(printf 'x%.0s' {1..100})" "$(head -n 1 "$WORK/stored.txt")" "payload"
# The partition keys are k<pid>-<n> for n in 0..2749, each once.
kstream-get load --json | python3 -c '
import json, sys
keys = sorted(int(json.loads(l)["PartitionKey"].split("-")[1]) for l in sys.stdin)
assert keys == list(range(2750)), keys[:5]' || fail "partition keys are not 0..2749 once each"
pass
for shard in 0 1 2 3; do
  expect_ge 1 "$(count_records load --shard "shardId-00000000000$shard")" "records in shard $shard"
done

expect_ok "$LOAD" "$SERVE_URL" load get 2750 1
read -r records failed _ <"$OUT"
expect_eq "2750 0" "$records $failed" "records got through 4 chains"
# One shard only.
expect_ok "$LOAD" "$SERVE_URL" load get 2750 1 shardId-000000000002
read -r records _ <"$OUT"
expect_eq "$(count_records load --shard shardId-000000000002)" "$records" "records of one shard"

# A stream that does not exist: an error and exit 1, not a figure.
expect_exit 1 "$LOAD" "$SERVE_URL" missing get 10 1
expect_contains "$ERR" "ResourceNotFoundException"
expect_exit 2 "$LOAD" "$SERVE_URL" load

stop_serve
finish
