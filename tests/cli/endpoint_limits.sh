#!/usr/bin/env bash
# kstream-put's KPL knobs against kstream-serve --enforce-limits (1,000
# records/s per shard): --rate-limit paces a producer under the shard limit,
# a producer over it is throttled and retries until every record is in, and
# --record-ttl / --fail-if-throttled report the records that do not make it,
# with a non-zero exit. In every case the stream plus the failed records are
# exactly the input: nothing lost, nothing twice, each key in order.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"

start_serve --enforce-limits
export KSTREAM_ENDPOINT=$SERVE_URL

# 3,000 records over 7 keys: "key<k> <n>", n counting up per key; and the
# same as put-records entries keyed by "key<k>".
python3 -c '
import base64, json
with open("'"$WORK"'/input", "w") as raw, open("'"$WORK"'/entries", "w") as entries:
    for i in range(3000):
        line = "key%d %d" % (i % 7, i // 7)
        raw.write(line + "\n")
        entries.write(json.dumps({"PartitionKey": "key%d" % (i % 7),
                                  "Data": base64.b64encode(line.encode()).decode()}) + "\n")'

# check_accounting STREAM [FAILED_FILE]: the stream's records and the failed
# ones (base64 Data) are the input exactly once; each key's in input order.
check_accounting() {
  kstream-get "$1" >"$WORK/$1.got"
  expect_py "stream $1 and ${2:-no failed records} hold every record once, keys in order" '
import base64, json, sys
inp = open(sys.argv[1]).read().splitlines()
got = open(sys.argv[2]).read().splitlines()
failed = []
if len(sys.argv) > 3:
    failed = [base64.b64decode(json.loads(l)["Data"]).decode() for l in open(sys.argv[3])]
if sorted(got + failed) != sorted(inp):
    sys.exit("stream %d + failed %d records != input %d" % (len(got), len(failed), len(inp)))
last = {}
for line in got:
    key, n = line.split()
    if int(n) <= last.get(key, -1):
        sys.exit("key %s out of order: %s after %d" % (key, n, last[key]))
    last[key] = int(n)
' "$WORK/input" "$WORK/$1.got" ${2:+"$2"}
}

# stat FIELD: a counter of the --stats line in $ERR.
stat() {
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{\"UserRecords\""):
        print(json.loads(line)[sys.argv[2]])' "$ERR" "$1"
}

# Within the limit: --rate-limit 100 keeps to the shard's 1,000 records/s
# (at most a stray throttle from clock skew between client and server).
expect_ok kstream create paced --shards 1
expect_ok kstream-put paced --json --rate-limit 100 --stats <"$WORK/entries"
expect_eq 3000 "$(stat UserRecords)" "records in at --rate-limit 100"
expect_eq 0 "$(stat Failed)"
# Unpaced (--rate-limit 0) the same put draws about 2,000 throttles.
if (($(stat Throttles) > 100)); then
  fail "--rate-limit 100 was throttled $(stat Throttles) times"
fi
check_accounting paced

# Over the limit: four times the shard's rate is throttled, retried, and
# every record gets in, in order.
expect_ok kstream create flooded --shards 1
expect_ok kstream-put flooded --json --rate-limit 400 --stats <"$WORK/entries"
expect_ge 1 "$(stat Throttles)" "throttles at --rate-limit 400"
expect_ge 1 "$(stat Retries)" "retries at --rate-limit 400"
expect_eq 0 "$(stat Failed)"
check_accounting flooded

# The same with KPL aggregation: aggregates count against the limit as one
# record each, so the limiter hardly matters, but everything still arrives.
expect_ok kstream create aggregated --shards 1
expect_ok kstream-put aggregated --json --aggregate --rate-limit 400 --stats <"$WORK/entries"
expect_eq 3000 "$(stat UserRecords)"
check_accounting aggregated

# A record TTL shorter than the throttling lasts: the records still waiting
# fail, are listed with the reason, and the exit status says so.
expect_ok kstream create expiring --shards 1
expect_exit 1 kstream-put expiring --json --rate-limit 1000 --record-ttl 200ms \
  --failed "$WORK/expired" --stats <"$WORK/entries"
expect_contains "$ERR" "could not be written"
expect_ge 1 "$(wc -l <"$WORK/expired")" "records failed by the TTL"
expect_eq "$(wc -l <"$WORK/expired")" "$(stat Failed)" "--failed lines vs the Failed counter"
expect_contains "$WORK/expired" "record TTL of 200ms expired"
expect_contains "$WORK/expired" "ProvisionedThroughputExceededException"
check_accounting expiring "$WORK/expired"

# --fail-if-throttled: no retries; a throttled record fails at once.
expect_ok kstream create impatient --shards 1
expect_exit 1 kstream-put impatient --json --rate-limit 0 --fail-if-throttled \
  --failed "$WORK/throttled" --stats <"$WORK/entries"
expect_eq 0 "$(stat Retries)" "retries with --fail-if-throttled"
expect_ge 1 "$(stat Failed)"
expect_contains "$WORK/throttled" "ProvisionedThroughputExceededException"
check_accounting impatient "$WORK/throttled"

# The knobs are validated.
expect_exit 2 kstream-put paced --record-ttl 10ms </dev/null
expect_contains "$ERR" "--record-ttl"
expect_exit 2 kstream-put paced --rate-limit -5 </dev/null
stop_serve
finish
