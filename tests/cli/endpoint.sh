#!/usr/bin/env bash
# The kstream tools with --endpoint / KSTREAM_ENDPOINT against kinesalite, an
# independent Kinesis emulator (npm, installed once into the build directory):
# the same round trips as against the local store, and PutRecords/GetRecords
# retries through a proxy that throttles and fails calls and records.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=endpoint_lib.bash
source "$(dirname "$0")/endpoint_lib.bash"

if ! npm_dir=$(npm_install_kinesalite); then
  echo "$TEST_NAME: SKIP: could not install kinesalite with npm (no node/npm or no registry)" >&2
  finish
fi
start_kinesalite "$npm_dir"
PEER_AT_TIMESTAMP=0 check_round_trips "$KINESALITE_URL"

# Retries: every PutRecords and GetRecords fault the proxy injects is
# retried; nothing is lost or repeated, and each key keeps its order.
start_proxy "$KINESALITE_URL"
export KSTREAM_ENDPOINT=$PROXY_URL
expect_ok kstream create retry --shards 2
for i in $(seq 1 3000); do echo "{\"k\":\"k$((i % 3))\",\"n\":$i}"; done >"$WORK/keyed"
expect_ok kstream-put retry --key-field k <"$WORK/keyed"
expect_ge 2 "$(proxy_stat faults)" "whole PutRecords calls failed by the proxy"
expect_ge 1 "$(proxy_stat record_faults)" "records failed inside PutRecords calls"
expect_eq 500 "$(proxy_stat max_put_records)" "the most records in one PutRecords"
kstream-get retry >"$WORK/retry.out"
expect_ge 1 "$(proxy_stat faults)" "GetRecords calls throttled by the proxy"
expect_py "every record once, each key in order, through throttling and failures" '
import json, sys
want, got = {}, {}
for path, out in ((sys.argv[1], want), (sys.argv[2], got)):
    for line in open(path):
        e = json.loads(line)
        out.setdefault(e["k"], []).append(e["n"])
sys.exit(0 if want == got else "differ: %s" % {k: len(v) for k, v in got.items()})' \
  "$WORK/keyed" "$WORK/retry.out"

# 5 MiB per PutRecords: 12 records of 600 KiB need three calls (unpaced:
# the default rate limit would hold one shard to 1.5 MiB a second).
"$SYS_PYTHON" -c '
import base64, json
for i in range(12):
    print(json.dumps({"PartitionKey": "big", "Data": base64.b64encode(bytes([65 + i]) * 614400).decode()}))
' >"$WORK/big"
expect_ok kstream-put retry --json --rate-limit 0 <"$WORK/big"
expect_py "no PutRecords over 5 MiB" '
import json, sys
n = json.load(open(sys.argv[1]))["max_put_bytes"]
sys.exit(0 if 3 * 614400 <= n <= 5 * 1048576 else "largest call: %d bytes" % n)' "$WORK/proxy.json"
kstream-get retry --json | grep '"PartitionKey":"big"' >"$WORK/big.out" || true
expect_lines 12 "$WORK/big.out"
expect_py "large records back byte for byte, in order" '
import json, sys
want = [json.loads(l)["Data"] for l in open(sys.argv[1])]
got = [json.loads(l)["Data"] for l in open(sys.argv[2])]
sys.exit(0 if want == got else "large records differ")' "$WORK/big" "$WORK/big.out"
unset KSTREAM_ENDPOINT

# A bad endpoint is a usage error; an endpoint that does not answer fails.
expect_exit 2 kstream --endpoint "ftp://127.0.0.1:1" list
expect_contains "$ERR" "http://"
expect_exit 1 kstream --endpoint "http://127.0.0.1:1" list
expect_contains "$ERR" "no answer from http://127.0.0.1:1"
finish
