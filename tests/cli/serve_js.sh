#!/usr/bin/env bash
# kstream-serve with the AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis,
# installed from npm once into the build directory and reused): the same
# round trips over HTTP/1.1 (NodeHttpHandler), over the client's default
# HTTP/2 (h2c with prior knowledge: a connection per request) and over one
# multiplexed HTTP/2 connection on the same port, and a raw HTTP/2 client
# sending garbage frames is refused while the server keeps serving.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"

require_js_sdk
start_serve --access-log "$WORK/access.log"
expect_ok node "$KSTREAM_SRC/tests/cli/serve_js.mjs" "$SERVE_URL" js1 http1
expect_contains "$OUT" "js sdk (http1):"
expect_ok node "$KSTREAM_SRC/tests/cli/serve_js.mjs" "$SERVE_URL" js2 h2
expect_contains "$OUT" "js sdk (h2):"
expect_ok node "$KSTREAM_SRC/tests/cli/serve_js.mjs" "$SERVE_URL" js3 h2-shared
expect_contains "$OUT" "js sdk (h2-shared):"
expect_contains "$WORK/access.log" " PutRecords 200 - "
expect_ok node "$KSTREAM_SRC/tests/cli/serve_h2_raw.js" "$SERVE_PORT"
expect_contains "$OUT" "raw h2: ok"
# SIGTERM with an HTTP/2 connection open: GOAWAY (no error), exit 0 promptly.
node "$KSTREAM_SRC/tests/cli/serve_h2_raw.js" "$SERVE_PORT" hold >"$WORK/hold.out" 2>&1 &
hold_pid=$!
wait_until 10 "the held HTTP/2 connection" grep -q holding "$WORK/hold.out"
stop_serve
wait_exit 10 "$hold_pid"
expect_eq 0 "$STATUS" "the held client's exit status"
expect_contains "$WORK/hold.out" "goaway 0"
finish
