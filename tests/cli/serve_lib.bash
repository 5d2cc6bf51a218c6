# shellcheck shell=bash
# Helpers for the kstream-serve CLI tests (source after lib.bash).
#
# start_serve [ARGS...]: starts kstream-serve on a free loopback port with
# ARGS, waits until it listens, and sets SERVE_PID, SERVE_PORT, SERVE_URL
# (stderr goes to $WORK/serve.err). Dummy credentials are exported for the
# AWS clients; they never leave the machine.

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1 AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
# Debian's python3 (boto3, cbor2) and AWS CLI, not whatever is first on PATH.
SYS_PYTHON=/usr/bin/python3
SYS_AWS=/usr/bin/aws

start_serve() {
  local err="$WORK/serve.err"
  : >"$err"
  kstream-serve --listen 127.0.0.1:0 "$@" 2>"$err" &
  SERVE_PID=$!
  local deadline=$((SECONDS + 10))
  while ! grep -q 'listening on' "$err"; do
    if ! kill -0 "$SERVE_PID" 2>/dev/null || ((SECONDS >= deadline)); then
      fail "kstream-serve did not start" "$(cat "$err")"
    fi
    sleep 0.05
  done
  SERVE_URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$err" | head -n 1)
  SERVE_PORT=${SERVE_URL##*:}
  export SERVE_URL SERVE_PORT
  pass
}

# stop_serve: SIGTERM, and the server must exit 0 promptly.
stop_serve() {
  kill -TERM "$SERVE_PID"
  wait_exit 10 "$SERVE_PID"
  expect_eq 0 "$STATUS" "kstream-serve exit status after SIGTERM"
}

# awsk ARGS...: the Debian AWS CLI's kinesis commands against the server.
awsk() { "$SYS_AWS" --endpoint-url "$SERVE_URL" --output json kinesis "$@"; }

# need_python_module NAME: true if Debian's python3 has it (else a SKIP notice).
need_python_module() {
  if ! "$SYS_PYTHON" -c "import $1" 2>/dev/null; then
    echo "$TEST_NAME: SKIP: $SYS_PYTHON has no module $1 (scripts/deps installs it)" >&2
    return 1
  fi
}

# npm_install_sdk: installs the JavaScript SDK's Kinesis client (and the
# HTTP/1.1 handler) once under $KSTREAM_BIN/npm-serve; prints the directory.
npm_install_sdk() {
  local dir="$KSTREAM_BIN/npm-serve"
  command -v npm >/dev/null && command -v node >/dev/null || return 1
  mkdir -p "$dir"
  (
    flock 9
    if [[ ! -d $dir/node_modules/@aws-sdk/client-kinesis || ! -d $dir/node_modules/@smithy/node-http-handler ]]; then
      npm install --prefix "$dir" --no-audit --no-fund --silent \
        @aws-sdk/client-kinesis @smithy/node-http-handler >&2 || exit 1
    fi
  ) 9>"$dir/.lock" || return 1
  echo "$dir"
}

# require_js_sdk: exports KSTREAM_NPM_DIR (npm_install_sdk), or ends the test
# with a SKIP notice when the SDK cannot be installed.
require_js_sdk() {
  if ! KSTREAM_NPM_DIR=$(npm_install_sdk); then
    echo "$TEST_NAME: SKIP: could not install @aws-sdk/client-kinesis with npm (no registry?)" >&2
    finish
  fi
  export KSTREAM_NPM_DIR
}
