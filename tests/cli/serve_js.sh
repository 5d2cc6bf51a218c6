#!/usr/bin/env bash
# kstream-serve with the AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis,
# installed from npm once into the build directory and reused).
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"

if ! KSTREAM_NPM_DIR=$(npm_install_sdk); then
  echo "$TEST_NAME: SKIP: could not install @aws-sdk/client-kinesis with npm (no registry?)" >&2
  finish
fi
export KSTREAM_NPM_DIR
start_serve
expect_ok node "$KSTREAM_SRC/tests/cli/serve_js.mjs" "$SERVE_URL" js
expect_contains "$OUT" "js sdk:"
stop_serve
finish
