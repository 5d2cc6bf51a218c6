#!/usr/bin/env bash
# kstream-serve with boto3 (Debian's python3-boto3), and with CBOR requests
# shaped as the Java SDK sends them (built with Debian's python3-cbor2).
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"

export PYTHONPATH="$KSTREAM_SRC/tests/cli"
start_serve

if need_python_module boto3; then
  expect_ok "$SYS_PYTHON" "$KSTREAM_SRC/tests/cli/serve_boto3.py" "$SERVE_URL" boto
  expect_contains "$OUT" "boto3:"
fi

if need_python_module cbor2; then
  expect_ok kstream create cbor --shards 2
  expect_ok "$SYS_PYTHON" "$KSTREAM_SRC/tests/cli/serve_cbor.py" "$SERVE_URL" cbor
  expect_contains "$OUT" "CBOR:"
  # What went in over CBOR reads back through the store, byte for byte.
  expect_ok kstream-get cbor --json
  expect_lines 5 "$OUT"
fi

stop_serve
finish
