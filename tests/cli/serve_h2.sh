#!/usr/bin/env bash
# kstream-serve answers the streams of one HTTP/2 connection at once, seen
# through Node's own http2 client (no npm needed): a ListStreams is answered
# while a PutRecords of the same connection waits for its shard's writer
# lock (held by another process, flock(1)); 100 concurrent streams of
# PutRecords and GetRecords, byte-exact, each answer on its own stream; and
# SIGTERM with puts in flight: GOAWAY, every put at or below its last stream
# id answered and stored, every one above it refused and not stored.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"

if ! command -v node >/dev/null || ! command -v flock >/dev/null; then
  echo "$TEST_NAME: SKIP: node or flock(1) missing (scripts/deps installs nodejs)" >&2
  finish
fi
streams_js="$KSTREAM_SRC/tests/cli/serve_h2_streams.js"
lock_of() { echo "$KSTREAM_HOME/streams/$1/shards/shardId-000000000000/lock"; }

expect_ok kstream create held --shards 1
expect_ok kstream create many --shards 4
start_serve --access-log "$WORK/access.log"

# A slow stream does not hold up a quick one on the same connection.
expect_ok node "$streams_js" "$SERVE_PORT" slow held "$(lock_of held)"
expect_contains "$OUT" "slow put, quick list: ok"
expect_eq "behind the lock" "$(kstream-get held)" "the held put, once the lock was free"

# 100 streams at once, byte-exact.
expect_ok node "$streams_js" "$SERVE_PORT" many many
expect_contains "$OUT" "100 streams: 150 puts"
expect_eq 151 "$(grep -c ' PutRecords 200 - ' "$WORK/access.log")" "PutRecords in the access log (1 held, 150 at once)"

# SIGTERM with puts in flight on one connection.
expect_ok kstream create stop --shards 1
node "$streams_js" "$SERVE_PORT" stop stop "$(lock_of stop)" "$SERVE_PID" \
  >"$WORK/answered" 2>"$WORK/stop.err" &
client_pid=$!
wait_exit 60 "$client_pid"
expect_eq 0 "$STATUS" "the stop client's exit status ($(cat "$WORK/stop.err"))"
wait_exit 10 "$SERVE_PID"
expect_eq 0 "$STATUS" "kstream-serve exit status after SIGTERM"
expect_contains "$WORK/stop.err" "answered"
echo "$TEST_NAME: $(tail -n 1 "$WORK/stop.err")"
kstream-get stop | sort >"$WORK/stored"
sort "$WORK/answered" >"$WORK/answered.sorted"
expect_same_file "$WORK/answered.sorted" "$WORK/stored"
finish
