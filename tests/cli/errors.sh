#!/usr/bin/env bash
# Exit codes (0 ok, 1 the work failed, 2 usage) and what the messages say.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

expect_ok kstream create s --shards 2

# --- A missing stream: exit 1, says so and how to fix it.
for tool in kstream-put kstream-get; do
  expect_exit 1 "$tool" nope </dev/null
  expect_contains "$ERR" "$tool: error: "
  expect_contains "$ERR" "'nope' does not exist"
  expect_contains "$ERR" "kstream create nope"
  expect_empty "$OUT" "$tool printed on stdout for a missing stream"
done
expect_exit 1 kstream-get nope -f
expect_contains "$ERR" "does not exist"
for cmd in describe delete; do
  expect_exit 1 kstream "$cmd" nope
  expect_contains "$ERR" "does not exist"
done
expect_exit 1 kstream retention nope 48
expect_contains "$ERR" "does not exist"
expect_exit 1 kstream-get s --shard 7
expect_contains "$ERR" "shardId-000000000007"

# --- Bad flags and arguments: exit 2 with a hint on stderr, nothing on stdout.
for args in "kstream-put s --bogus" "kstream-get s --bogus" "kstream create s --bogus" \
  "kstream-put" "kstream-get" "kstream" "kstream create" "kstream frobnicate" \
  "kstream-put s -k a -K b" "kstream-put s -k a --json" "kstream-put s --sync sometimes" \
  "kstream-put s --linger 5parsecs" "kstream-put s --batch-records 0" "kstream-put s -K a..b" \
  "kstream-put s -k" "kstream-put s -E notanumber" \
  "kstream-put s -E 340282366920938463463374607431768211456" \
  "kstream-get s -n -1" "kstream-get s -n many" "kstream-get s --json -0" \
  "kstream-get s --shard bogus" "kstream create s --shards 0" "kstream create s --shards 10001" \
  "kstream create s --shards two" "kstream retention s" "kstream list extra"; do
  # shellcheck disable=SC2086  # $args is a command line
  expect_exit 2 $args </dev/null
  expect_empty "$OUT" "'$args' printed on stdout"
  expect_ne "" "$(head -c 1 "$ERR")" "'$args' says nothing on stderr"
done
# A usage error names the tool and points at --help.
expect_exit 2 kstream-put s --bogus
expect_contains "$ERR" "kstream-put"
expect_contains "$ERR" "--bogus"
expect_contains "$ERR" "kstream-put --help"

# Partition key limits: 1..256 characters (characters, not bytes).
expect_exit 2 kstream-put s -k '' </dev/null
expect_contains "$ERR" "partition key is empty"
key256=$(printf 'k%.0s' $(seq 256))
expect_ok kstream-put s -k "$key256" <<<"max-key"
expect_exit 2 kstream-put s -k "${key256}k" </dev/null
expect_contains "$ERR" "256"
key_utf8=$(printf '\xc3\xa9%.0s' $(seq 256))  # 256 characters, 512 bytes
expect_ok kstream-put s -k "$key_utf8" <<<"max-utf8-key"
expect_ok kstream-get s --json
expect_py "256-character keys stored as given" '
import base64, json, sys
recs = {base64.b64decode(json.loads(l)["Data"]): json.loads(l)["PartitionKey"] for l in open(sys.argv[1])}
assert recs[b"max-key"] == "k" * 256
assert recs[b"max-utf8-key"] == "\u00e9" * 256
' "$OUT"

# --- Invalid stream names: exit 2 everywhere.
for name in ../x x/y "" "a b" . .. "x:y" $'x\ny'; do
  expect_exit 2 kstream-put "$name" </dev/null
  expect_contains "$ERR" "stream name"
  expect_exit 2 kstream-get "$name"
  expect_exit 2 kstream create "$name"
  expect_exit 2 kstream describe "$name"
  expect_exit 2 kstream delete "$name"
done
expect_exit 2 kstream create "$(printf 'n%.0s' $(seq 300))"
# Nothing was created outside the store (or inside it).
expect_eq $'home\nwork' "$(find "$TEST_TMP" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort)" \
  "files beside the store"
expect_eq $'streams\nstreams/s' "$(cd "$KSTREAM_HOME" && find . -mindepth 1 -maxdepth 2 -printf '%P\n' | sort)" \
  "files in the store"
expect_ok kstream list
expect_eq "s" "$(cat "$OUT")" "streams after the invalid names"

# --- create twice; retention bounds.
expect_exit 1 kstream create s
expect_contains "$ERR" "already exists"
expect_ok kstream describe s --json
expect_py "create twice leaves the stream as it was" '
import json, sys
d = json.load(open(sys.argv[1]))["StreamDescription"]
assert len(d["Shards"]) == 2 and d["RetentionPeriodHours"] == 24, d
' "$OUT"
for h in 0 23 8761 -5 1e9; do
  expect_exit 2 kstream create r$RANDOM --retention "$h"
  expect_exit 2 kstream retention s "$h"
done
expect_ok kstream create r24 --retention 24
expect_ok kstream create r8760 --retention 8760
expect_ok kstream retention s 8760
expect_ok kstream list
expect_eq $'r24\nr8760\ns' "$(sort "$OUT")" "streams after the retention checks"

# --- Oversized records: exit 1, names the line, keeps every earlier line.
expect_ok kstream create big
python3 -c '
import sys
out = sys.stdout.buffer
for i in range(1, 6):
    out.write(b"ok-%d\n" % i)
out.write(b"y" * (2 * 1024 * 1024) + b"\n")    # line 6: 2 MiB
out.write(b"never-written\n")
' >"$WORK/big.txt"
expect_exit 1 kstream-put big <"$WORK/big.txt"
expect_contains "$ERR" "kstream-put: error: line 6: "
expect_contains "$ERR" "1 MiB"
expect_ok kstream-get big
expect_eq $'ok-1\nok-2\nok-3\nok-4\nok-5' "$(cat "$OUT")" "records before the oversized line"
# The limit is key + data <= 1 MiB: with a 1-byte key, 1048575 data bytes fit.
expect_ok kstream create limit
python3 -c 'import sys; sys.stdout.write("a" * 1048575 + "\n")' >"$WORK/max.txt"
python3 -c 'import sys; sys.stdout.write("b" * 1048576 + "\n")' >"$WORK/over.txt"
expect_ok kstream-put limit -k k <"$WORK/max.txt"
expect_exit 1 kstream-put limit -k k <"$WORK/over.txt"
expect_contains "$ERR" "line 1: "
expect_ok kstream-get limit
expect_same_file "$WORK/max.txt" "$OUT" "the largest record"
# --skip-invalid: skipped, counted, exit 0.
expect_ok kstream-put big --skip-invalid <"$WORK/big.txt"
expect_contains "$ERR" "skipped 1"
expect_contains "$ERR" "line 6"
expect_ok kstream-get big
expect_lines 11 "$OUT"
expect_eq "never-written" "$(tail -n 1 "$OUT")" "last record after --skip-invalid"

# --- Invalid JSON with --key-field: exit 1 with the line number.
expect_ok kstream create j --shards 2
cat >"$WORK/j.ndjson" <<'EOF'
{"user": {"id": "alice"}, "n": 1}
{"user": {"id": 42}, "n": 2}
{"user": {"id": "bob"}, "n": 3
{"user": {"id": "carol"}, "n": 4}
{"user": {}, "n": 5}
not json at all
{"user": {"id": true}, "n": 7}
{"user": {"id": ["x"]}, "n": 8}
{"user": {"id": "dave"}, "n": 9}
EOF
expect_exit 1 kstream-put j -K user.id <"$WORK/j.ndjson"
expect_contains "$ERR" "kstream-put: error: line 3: "
expect_contains "$ERR" "JSON"
expect_ok kstream-get j --json
expect_py "records before the invalid JSON line, with their keys" '
import base64, json, sys
recs = sorted((json.loads(base64.b64decode(r["Data"]))["n"], r["PartitionKey"])
              for r in map(json.loads, open(sys.argv[1])))
assert recs == [(1, "alice"), (2, "42")], recs
' "$OUT"
# A missing field is line 5 once line 3 is skipped... check each alone.
expect_exit 1 kstream-put j -K user.id < <(sed -n '4,5p' "$WORK/j.ndjson")
expect_contains "$ERR" "line 2: "
expect_contains "$ERR" "user.id"
expect_exit 1 kstream-put j -K user.id < <(sed -n '8p' "$WORK/j.ndjson")
expect_contains "$ERR" "line 1: "
# --skip-invalid: skips lines 3, 5, 6 and 8; says so; exit 0.
expect_ok kstream create j2
expect_ok kstream-put j2 -K user.id --skip-invalid <"$WORK/j.ndjson"
expect_contains "$ERR" "skipped 4"
expect_contains "$ERR" "line 3"
expect_ok kstream-get j2 --json
expect_py "--skip-invalid kept exactly the valid lines, in order" '
import base64, json, sys
recs = [(json.loads(base64.b64decode(r["Data"]))["n"], r["PartitionKey"])
        for r in map(json.loads, open(sys.argv[1]))]
assert recs == [(1, "alice"), (2, "42"), (4, "carol"), (7, "true"), (9, "dave")], recs
' "$OUT"
# -q hides the count, not the work.
expect_ok kstream create j3
expect_ok kstream-put j3 -q -K user.id --skip-invalid <"$WORK/j.ndjson"
expect_empty "$ERR" "kstream-put -q --skip-invalid wrote to stderr"
expect_eq 5 "$(count_records j3)" "records after -q --skip-invalid"

# Invalid --json entries.
expect_ok kstream create je
printf '%s\n' '{"PartitionKey":"a","Data":"b2s="}' '{"PartitionKey":"a","Data":"%%%"}' >"$WORK/je1"
expect_exit 1 kstream-put je --json <"$WORK/je1"
expect_contains "$ERR" "line 2: "
expect_contains "$ERR" "base64"
printf '%s\n' '{"Data":"b2s="}' >"$WORK/je2"
expect_exit 1 kstream-put je --json <"$WORK/je2"
expect_contains "$ERR" "line 1: "
expect_contains "$ERR" "PartitionKey"
printf '%s\n' '{"PartitionKey":"a","Data":"b2s=","ExplicitHashKey":"-1"}' >"$WORK/je3"
expect_exit 1 kstream-put je --json <"$WORK/je3"
expect_contains "$ERR" "line 1: "
expect_ok kstream-get je
expect_eq "ok" "$(cat "$OUT")" "records of 'je'"

# --- Iterator misuse: exit 2.
expect_exit 2 kstream-get s -i AT_TIMESTAMP
expect_contains "$ERR" "--timestamp"
expect_exit 2 kstream-get s -i AT_SEQUENCE_NUMBER
expect_contains "$ERR" "--sequence-number"
expect_exit 2 kstream-get s -i AFTER_SEQUENCE_NUMBER
expect_exit 2 kstream-get s --sequence-number 18446744073709551617
expect_exit 2 kstream-get s --timestamp 1700000000
expect_exit 2 kstream-get s -i SOMEWHERE
expect_exit 2 kstream-get s -i AT_SEQUENCE_NUMBER --sequence-number abc
expect_exit 2 kstream-get s -i AT_TIMESTAMP --timestamp yesterday-ish
expect_exit 2 kstream-get s -i AT_TIMESTAMP --timestamp 99999999999999
expect_contains "$ERR" "outside the years 0000 to 9999"
expect_exit 2 kstream-get s -i AT_TIMESTAMP --timestamp 99999999999
expect_contains "$ERR" "future"
expect_exit 2 kstream-get s -i LATEST --sequence-number 18446744073709551617

# --- --help: exit 0, "Examples" on stdout, nothing on stderr; --version.
version=$(sed -n 's/^project(kstream VERSION \([0-9.]*\).*/\1/p' "$KSTREAM_SRC/CMakeLists.txt")
expect_ne "" "$version" "version in CMakeLists.txt"
for tool in kstream kstream-put kstream-get; do
  for h in --help -h; do
    expect_ok "$tool" "$h"
    expect_contains "$OUT" "Examples"
    expect_contains "$OUT" "$tool"
    expect_empty "$ERR" "$tool $h wrote to stderr"
  done
  expect_ok "$tool" --version
  expect_eq "$tool $version" "$(cat "$OUT")" "$tool --version"
  expect_empty "$ERR"
done
for topic in "" create list describe delete retention; do
  # shellcheck disable=SC2086  # an empty topic is no argument
  expect_ok kstream help $topic
  expect_ne "" "$(head -c 1 "$OUT")" "kstream help $topic printed nothing"
done
expect_ok kstream help put
expect_contains "$OUT" "Examples"
expect_contains "$OUT" "kstream-put"
expect_ok kstream put --help
expect_contains "$OUT" "kstream-put"

# --- Git-style dispatch.
expect_ok kstream create d
expect_ok kstream put d -k a < <(printf 'via-dispatch\n')
expect_ok kstream get d
expect_eq "via-dispatch" "$(cat "$OUT")" "kstream put / kstream get"
expect_exit 1 kstream put nope </dev/null
expect_contains "$ERR" "kstream-put: error:"
expect_exit 2 kstream get d --bogus
# Common options before the command go with it.
expect_ok kstream --home "$WORK/other" create elsewhere
expect_ok kstream --home "$WORK/other" put elsewhere -k a < <(printf 'over-there\n')
expect_ok kstream -q --home "$WORK/other" get elsewhere
expect_eq "over-there" "$(cat "$OUT")" "kstream --home DIR put/get"
expect_exit 1 kstream get elsewhere
expect_contains "$ERR" "does not exist"
# Any kstream-X on PATH.
mkdir -p "$WORK/bin"
cat >"$WORK/bin/kstream-hello" <<'EOF'
#!/usr/bin/env bash
printf 'hello'
printf ' [%s]' "$@"
echo
exit 3
EOF
chmod +x "$WORK/bin/kstream-hello"
PATH="$WORK/bin:$PATH" expect_exit 3 kstream hello a 'b c'
expect_eq "hello [a] [b c]" "$(cat "$OUT")" "kstream hello runs kstream-hello from PATH"
expect_exit 2 kstream frobnicate
expect_contains "$ERR" "frobnicate"

# --- -q keeps admin commands quiet; -v adds a summary.
expect_ok kstream create quiet -q
expect_empty "$ERR" "kstream create -q wrote to stderr"
expect_ok kstream -q delete quiet
expect_empty "$ERR" "kstream -q delete wrote to stderr"
expect_ok kstream-put d -v < <(printf 'x\ny\n')
expect_contains "$ERR" "2 records"
expect_ok kstream-put d < <(printf 'x\ny\n')
expect_empty "$ERR" "kstream-put without -v wrote to stderr"

# --- Progress on stderr only when it is a terminal, and not with -q. The
# input trickles in for well over a second, so a progress line is due.
progress_check='
import os, pty, subprocess, sys, time
quiet = sys.argv[1] == "quiet"
master, slave = pty.openpty()
cmd = ["kstream-put", "d", "-k", "p"] + (["-q"] if quiet else [])
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=slave)
os.close(slave)
for i in range(80):
    p.stdin.write(b"progress-%d\n" % i)
    p.stdin.flush()
    time.sleep(0.025)
p.stdin.close()
out = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
rc = p.wait(timeout=30)
assert rc == 0, rc
if quiet:
    assert out == b"", out
else:
    assert b"kstream-put: " in out and b"records" in out, out
'
expect_py "kstream-put shows progress on a terminal" "$progress_check" loud
expect_py "kstream-put -q shows no progress on a terminal" "$progress_check" quiet
expect_ok kstream-get d
expect_eq 160 "$(grep -c '^progress-' "$OUT")" "records put under a terminal"

finish
