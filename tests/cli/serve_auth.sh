#!/usr/bin/env bash
# kstream-serve --require-auth: SigV4 signatures from the AWS CLI, boto3 and
# the JavaScript SDK are verified against a credentials file; a wrong
# secret, an unknown key and an unsigned request are refused with the
# service's errors, and the server keeps serving.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"
export PYTHONPATH="$KSTREAM_SRC/tests/cli"

cat >"$WORK/keys" <<'KEYS'
[default]
aws_access_key_id = AKIDSERVETEST
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY

[reader]
aws_access_key_id=AKIDREADER
aws_secret_access_key=another-secret
KEYS

expect_exit 1 kstream-serve --require-auth "$WORK/missing-file" --listen 127.0.0.1:0
expect_contains "$ERR" "kstream-serve: error:"
printf '[x]\nregion = us-east-1\n' >"$WORK/nokeys"
expect_exit 1 kstream-serve --require-auth "$WORK/nokeys" --listen 127.0.0.1:0
expect_contains "$ERR" "no aws_access_key_id"

start_serve --require-auth "$WORK/keys" --access-log "$WORK/access.log"

# The AWS CLI with a known key.
if [[ -x $SYS_AWS ]]; then
  AWS_ACCESS_KEY_ID=AKIDSERVETEST AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
    expect_ok awsk create-stream --stream-name auth --shard-count 1
  AWS_ACCESS_KEY_ID=AKIDREADER AWS_SECRET_ACCESS_KEY=another-secret \
    expect_ok awsk put-record --stream-name auth --partition-key k --data "$(printf signed | base64)"
  AWS_ACCESS_KEY_ID=AKIDREADER AWS_SECRET_ACCESS_KEY=wrong \
    expect_exit 254 awsk describe-stream --stream-name auth
  expect_contains "$ERR" InvalidSignatureException
else
  echo "$TEST_NAME: SKIP: AWS CLI part ($SYS_AWS missing)" >&2
  expect_ok kstream create auth --shards 1
fi

if need_python_module boto3; then
  expect_ok "$SYS_PYTHON" -c '
import sys, boto3, botocore.exceptions
def client(key, secret):
    return boto3.client("kinesis", endpoint_url=sys.argv[1], region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
good = client("AKIDSERVETEST", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
good.put_record(StreamName="auth", PartitionKey="p", Data=b"\x00boto3")
for key, secret, want in [("AKIDSERVETEST", "nope", "InvalidSignatureException"),
                          ("AKIDUNKNOWN", "whatever", "UnrecognizedClientException")]:
    try:
        client(key, secret).list_streams()
        raise SystemExit("accepted a bad signature: %s" % want)
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == want, (e.response["Error"], want)
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
print(good.list_streams()["StreamNames"])
' "$SERVE_URL"
  expect_contains "$OUT" "'auth'"
fi

# Unsigned, and badly formed Authorization headers.
expect_py "no or malformed Authorization: refused, and the server keeps serving" '
import json, sys, http.client, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port)
def post(headers):
    h = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.ListStreams"}
    h.update(headers)
    c.request("POST", "/", body=b"{}", headers=h)
    r = c.getresponse()
    return r.status, json.loads(r.read())["__type"]
assert post({}) == (403, "MissingAuthenticationTokenException"), post({})
bad = post({"Authorization": "AWS4-HMAC-SHA256 Credential=garbage", "X-Amz-Date": "20240101T000000Z"})
assert bad == (400, "IncompleteSignatureException"), bad
' "$SERVE_URL"

if KSTREAM_NPM_DIR=$(npm_install_sdk); then
  export KSTREAM_NPM_DIR
  # Over HTTP/1.1 (NodeHttpHandler) and the client's default HTTP/2, where
  # the signed headers name :authority instead of host.
  for protocol in http1 h2; do
    expect_ok node --input-type=module -e '
import { createRequire } from "node:module";
const require = createRequire(process.env.KSTREAM_NPM_DIR + "/package.json");
const K = require("@aws-sdk/client-kinesis");
const { NodeHttpHandler } = require("@smithy/node-http-handler");
const [url, protocol] = process.argv.slice(1);
let signedHeaders = "";
const client = (secret) => {
  const c = new K.KinesisClient({ endpoint: url, region: "us-east-1",
    credentials: { accessKeyId: "AKIDREADER", secretAccessKey: secret },
    ...(protocol === "http1" ? { requestHandler: new NodeHttpHandler() } : {}) });
  c.middlewareStack.add((next) => async (args) => {
    signedHeaders = /SignedHeaders=([^,]*)/.exec(args.request.headers.authorization)[1];
    return next(args);
  }, { step: "finalizeRequest", priority: "low" });
  return c;
};
await client("another-secret").send(new K.PutRecordCommand({ StreamName: "auth",
  PartitionKey: "js", Data: new TextEncoder().encode("from js " + protocol) }));
const authority = signedHeaders.split(";").includes(":authority");
if (authority !== (protocol === "h2")) throw new Error("signed headers: " + signedHeaders);
try {
  await client("bad").send(new K.ListStreamsCommand({}));
  throw new Error("a bad signature was accepted");
} catch (e) {
  if (e.name !== "InvalidSignatureException") throw e;
}
console.log("js signed ok over " + protocol + " (" + signedHeaders + ")");
' "$SERVE_URL" "$protocol"
    expect_contains "$OUT" "js signed ok over $protocol"
  done
else
  echo "$TEST_NAME: SKIP: JavaScript SDK part (npm install failed)" >&2
fi

# Everything signed correctly got in; nothing else did.
expect_ok kstream-get auth
if [[ -n ${KSTREAM_NPM_DIR:-} ]]; then
  expect_contains "$OUT" "from js http1"
  expect_contains "$OUT" "from js h2"
fi
if [[ -x $SYS_AWS ]]; then
  expect_eq 1 "$(grep -c '^signed$' "$OUT" || true)" "the CLI's record"
fi
expect_contains "$WORK/access.log" "MissingAuthenticationTokenException"
stop_serve
finish
