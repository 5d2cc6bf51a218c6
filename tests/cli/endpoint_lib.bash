# shellcheck shell=bash
# Helpers for the --endpoint CLI tests (source after lib.bash): a kinesalite
# peer, a fault-injecting proxy, and the round trips every endpoint must pass.
# Dummy credentials only; every server binds 127.0.0.1.

export AWS_ACCESS_KEY_ID=AKIDKSTREAMTEST AWS_SECRET_ACCESS_KEY=kstream-test-secret
export AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
SYS_PYTHON=/usr/bin/python3

# npm_install_kinesalite: installs kinesalite once under $KSTREAM_BIN/npm-peers
# (reused by later runs); prints the directory.
npm_install_kinesalite() {
  local dir="$KSTREAM_BIN/npm-peers"
  command -v npm >/dev/null && command -v node >/dev/null || return 1
  mkdir -p "$dir"
  (
    flock 9
    if [[ ! -f $dir/node_modules/kinesalite/package.json ]]; then
      npm install --prefix "$dir" --no-audit --no-fund --silent kinesalite@3.3.3 >&2 || exit 1
    fi
  ) 9>"$dir/.lock" || return 1
  echo "$dir"
}

# start_kinesalite: starts kinesalite in memory on a free loopback port (its
# own command would bind every interface) and sets KINESALITE_URL.
start_kinesalite() {
  local dir=$1
  node -e '
    const kinesalite = require(process.argv[1] + "/node_modules/kinesalite");
    const server = kinesalite({createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0,
                               shardLimit: 100});
    server.listen(0, "127.0.0.1", () => console.log("listening on " + server.address().port));
  ' "$dir" >"$WORK/kinesalite.out" 2>"$WORK/kinesalite.err" &
  KINESALITE_PID=$!
  wait_until 20 "kinesalite to listen" grep -q "listening on" "$WORK/kinesalite.out"
  KINESALITE_URL="http://127.0.0.1:$(sed -n 's/listening on //p' "$WORK/kinesalite.out")"
}

# start_proxy UPSTREAM: the fault proxy (endpoint_proxy.py) in front of
# UPSTREAM; sets PROXY_URL. Its counters land in $WORK/proxy.json.
start_proxy() {
  "$SYS_PYTHON" "$KSTREAM_SRC/tests/cli/endpoint_proxy.py" "$1" "$WORK/proxy.json" \
    >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
  PROXY_PID=$!
  wait_until 20 "the proxy to listen" grep -q "listening on" "$WORK/proxy.out"
  PROXY_URL="http://127.0.0.1:$(sed -n 's/listening on //p' "$WORK/proxy.out")"
}

# proxy_stat KEY: one counter of the proxy.
proxy_stat() {
  "$SYS_PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$WORK/proxy.json" "$1"
}

# Lines with what line framing must keep: spaces, tabs, UTF-8, backslashes, quotes.
make_lines() {
  local n=$1 i
  for ((i = 1; i <= n; i++)); do
    printf 'line %d\t"quoted" \\ back\xc3\xa9 %s\n' "$i" "$((i * 7919 % 10007))"
  done
}

# field_of FILE KEY: one field of every JSON line of FILE.
field_of() {
  "$SYS_PYTHON" -c '
import json, sys
for line in open(sys.argv[1]):
    print(json.loads(line)[sys.argv[2]])' "$1" "$2"
}

# check_round_trips URL: the round trips of the kstream tools against URL
# (PEER_AT_TIMESTAMP=0 leaves out AT_TIMESTAMP).
check_round_trips() {
  local url=$1
  export KSTREAM_ENDPOINT=$url

  # create, list, describe
  expect_ok kstream create rt --shards 2
  expect_contains "$ERR" "created stream 'rt' with 2 shards"
  expect_ok kstream list
  expect_contains "$OUT" "rt"
  expect_ok kstream describe rt
  expect_contains "$OUT" "Shards:     2 open, 0 closed"
  expect_ok kstream describe rt --json
  expect_py "describe --json lists 2 shards" '
import json, sys
n = len(json.load(open(sys.argv[1]))["StreamDescription"]["Shards"])
sys.exit(0 if n == 2 else "%d shards" % n)' "$OUT"
  expect_exit 1 kstream create rt --shards 1
  expect_contains "$ERR" "already exists"

  # plain lines, one key: one shard, so the exact order and bytes come back
  make_lines 1500 >"$WORK/lines"
  expect_ok kstream-put rt -k one <"$WORK/lines"
  kstream-get rt >"$WORK/got"
  expect_same_file "$WORK/lines" "$WORK/got" "plain lines back byte for byte"

  # --json entries with binary data (NUL, newline, high bytes), several keys
  "$SYS_PYTHON" -c '
import base64, json, random
random.seed(7)
for i in range(400):
    data = bytes(random.randrange(256) for _ in range(random.randrange(0, 300)))
    print(json.dumps({"PartitionKey": "k%d" % (i % 5), "Data": base64.b64encode(data).decode()}))
' >"$WORK/entries"
  expect_ok kstream create bin --shards 3
  expect_ok kstream-put bin --json <"$WORK/entries"
  kstream-get bin --json >"$WORK/bin.out"
  expect_py "binary --json records back byte for byte, in order per key" '
import json, sys
def by_key(path):
    out = {}
    for line in open(path):
        e = json.loads(line)
        out.setdefault(e["PartitionKey"], []).append(e["Data"])
    return out
want, got = by_key(sys.argv[1]), by_key(sys.argv[2])
sys.exit(0 if want == got else "differ: %d vs %d keys" % (len(want), len(got)))' \
    "$WORK/entries" "$WORK/bin.out"

  # AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER with the endpoint's own numbers
  kstream-get rt --json --limit 120 >"$WORK/head.json"
  field_of "$WORK/head.json" SequenceNumber >"$WORK/seqs"
  local seq100
  seq100=$(sed -n 100p "$WORK/seqs")
  expect_ok kstream-get rt --iterator AT_SEQUENCE_NUMBER --sequence-number "$seq100" --limit 1
  expect_eq "$(sed -n 100p "$WORK/lines")" "$(cat "$OUT")"
  expect_ok kstream-get rt --iterator AFTER_SEQUENCE_NUMBER --sequence-number "$seq100" --limit 1
  expect_eq "$(sed -n 101p "$WORK/lines")" "$(cat "$OUT")"
  # (kinesalite's AT_TIMESTAMP iterators hang: mhart/kinesalite#84)
  if [[ ${PEER_AT_TIMESTAMP:-1} == 1 ]]; then
    expect_ok kstream-get rt --iterator AT_TIMESTAMP --timestamp 0 --limit 1
    expect_eq "$(sed -n 1p "$WORK/lines")" "$(cat "$OUT")"
  fi

  # follow with a limit: the follower ends after the records put meanwhile
  expect_ok kstream create fol --shards 2
  kstream-get fol --follow --limit 3 >"$WORK/fol.out" 2>"$WORK/fol.err" &
  local follower=$!
  sleep 0.3
  printf 'f1\nf2\nf3\n' | kstream-put fol -k same
  wait_exit 30 "$follower"
  expect_eq 0 "$STATUS" "follower exit status"
  expect_eq $'f1\nf2\nf3' "$(cat "$WORK/fol.out")"

  # split and merge with kstream-scale; per-key order across the lineage
  expect_ok kstream-scale rt split shardId-000000000000
  expect_ok kstream describe rt
  expect_contains "$OUT" "Shards:     3 open, 1 closed"
  make_lines 300 | sed 's/^/after-split /' >"$WORK/more"
  expect_ok kstream-put rt -k one <"$WORK/more"
  expect_ok kstream-scale rt merge shardId-000000000002 shardId-000000000003
  expect_ok kstream describe rt
  expect_contains "$OUT" "Shards:     2 open, 3 closed"
  printf 'after-merge\n' | kstream-put rt -k one
  cat "$WORK/lines" "$WORK/more" >"$WORK/want"
  echo after-merge >>"$WORK/want"
  kstream-get rt >"$WORK/got"
  expect_same_file "$WORK/want" "$WORK/got" "one key's records in order across split and merge"

  # retention, delete, and the errors
  expect_ok kstream retention rt 48
  expect_ok kstream describe rt
  expect_contains "$OUT" "Retention:  48 h"
  expect_ok kstream delete rt
  expect_ok kstream list
  expect_not_contains "$OUT" "rt"
  expect_exit 1 kstream-get rt
  expect_contains "$ERR" "stream 'rt' does not exist at $url"
  echo x | expect_exit 1 kstream-put nosuch
  expect_contains "$ERR" "stream 'nosuch' does not exist"
  # A consumer group reads the endpoint's stream once (leases kept locally);
  # run again, it has nothing left.
  expect_ok kstream-get bin
  sort "$OUT" >"$WORK/bin.all"
  expect_ok kstream-get bin --group g
  sort "$OUT" >"$WORK/bin.group"
  expect_same_file "$WORK/bin.all" "$WORK/bin.group"
  expect_ok kstream-get bin --group g
  expect_empty "$OUT"
  expect_ok kstream groups bin
  expect_eq g "$(cat "$OUT")" "kstream groups at $url"
  unset KSTREAM_ENDPOINT
  # The flag does what the variable does, and the local store never saw any of it.
  expect_ok kstream --endpoint "$url" list
  expect_contains "$OUT" "bin"
  expect_ok kstream list
  expect_empty "$OUT"
}
