#!/usr/bin/env bash
# Enhanced fan-out through kstream-serve: the AWS SDK for JavaScript v3
# (installed from npm once into the build directory, as serve_js.sh does)
# registers a consumer and subscribes to every shard, records byte-exact
# and in order, resumption, ChildShards after a split, the service's errors;
# then a raw HTTP/2 client checks the event-stream framing (CRCs), a CBOR
# subscription shaped as the Java SDK v2 sends it and the HTTP/1.1 refusal;
# SIGTERM during a subscription ends its stream cleanly; and subscriptions
# do not hold the server's workers.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"

require_js_sdk
start_serve --access-log "$WORK/access.log"
expect_ok node "$KSTREAM_SRC/tests/cli/serve_efo.mjs" "$SERVE_URL" efo
expect_contains "$OUT" "js efo:"
expect_contains "$WORK/access.log" " SubscribeToShard 200 - "
expect_ok node "$KSTREAM_SRC/tests/cli/serve_efo_raw.js" "$SERVE_PORT" raw
expect_contains "$OUT" "raw efo:"
# The consumers are in the store: the stream's metadata names them.
expect_contains "$KSTREAM_HOME/streams/raw/stream.json" '"name": "holder"'

# SIGTERM while a subscription is open: its stream ends cleanly (an event,
# no exception), then GOAWAY, and the server exits 0 promptly.
node "$KSTREAM_SRC/tests/cli/serve_efo_raw.js" "$SERVE_PORT" raw hold >"$WORK/hold.out" 2>&1 &
hold_pid=$!
wait_until 10 "the held subscription" grep -q subscribed "$WORK/hold.out"
stop_serve
wait_exit 10 "$hold_pid"
expect_eq 0 "$STATUS" "the held client's exit status"
expect_contains "$WORK/hold.out" "stream ended: true, last event"
expect_contains "$WORK/hold.out" "goaway 0"

# More subscriptions than the server has workers (--threads 2): they hold
# threads of their own, so other requests are still answered.
start_serve --threads 2
expect_ok node "$KSTREAM_SRC/tests/cli/serve_efo_raw.js" "$SERVE_PORT" many many
expect_contains "$OUT" "many efo:"
stop_serve
finish
