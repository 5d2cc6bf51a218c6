#!/usr/bin/env bash
# kstream-window beyond stdin files: --stream against a real store, processing
# time windows that close while input waits, usage errors, help, SIGPIPE.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

[[ -x $KSTREAM_BIN/kstream-window ]] || fail "$KSTREAM_BIN/kstream-window is missing"

# --- --stream: event time over 3 shards, same result as from a file.
python3 - "$WORK/ev.ndjson" <<'PY'
import json, random, sys
r = random.Random(9)
with open(sys.argv[1], "w") as f:
    for i in range(3000):
        f.write(json.dumps({"ts": 1700000000000 + i * 7, "k": "k%d" % r.randrange(30),
                            "v": r.randrange(100)}) + "\n")
PY
expect_ok kstream create ev --shards 3
expect_ok kstream-put ev -K k <"$WORK/ev.ndjson"
ARGS=(--tumbling 2s --time-field ts --allowed-lateness 1m --group-by k --count --sum v)
expect_ok kstream-window "${ARGS[@]}" <"$WORK/ev.ndjson"
sort "$OUT" >"$WORK/from-file"
expect_ok kstream-window --stream ev "${ARGS[@]}"
sort "$OUT" >"$WORK/from-stream"
expect_same_file "$WORK/from-file" "$WORK/from-stream" "--stream and stdin agree"
expect_lines 330 "$WORK/from-stream"
# Arrival time (no time field): every record lands in some window.
expect_ok kstream-window --stream ev --tumbling 1s --count
expect_py "arrival-time windows hold every record" '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert sum(r["count"] for r in rows) == 3000, rows
' "$OUT"
expect_exit 1 kstream-window --stream nope --tumbling 1s
expect_contains "$ERR" "kstream-window: error: "
expect_contains "$ERR" "'nope' does not exist"
# Following: a record put later shows up in a window that closes by itself.
expect_ok kstream create live
kstream-window --stream live -f -i LATEST --tumbling 1s --group-by k >"$WORK/live.out" 2>"$WORK/live.err" &
follower=$!
sleep 0.5
echo '{"k":"late-comer"}' | kstream-put live
wait_until 10 "a window of the followed stream" has_lines 1 "$WORK/live.out"
expect_contains "$WORK/live.out" '"k":"late-comer","count":1'
kill -TERM "$follower"
wait_exit 10 "$follower"
expect_eq 0 "$STATUS" "SIGTERM ends a follower cleanly"

# --- Processing time on a pipe: a window closes while input waits.
mkfifo "$WORK/fifo"
kstream-window --tumbling 1s --count <"$WORK/fifo" >"$WORK/pt.out" &
pt=$!
exec 7>"$WORK/fifo"
echo '{"a":1}' >&7
echo '{"a":2}' >&7
wait_until 10 "a processing-time window before end of input" has_lines 1 "$WORK/pt.out"
expect_contains "$WORK/pt.out" '"count":2}'
exec 7>&-
wait_exit 10 "$pt"
expect_eq 0 "$STATUS" "exit at end of input"
expect_lines 1 "$WORK/pt.out"
# SIGTERM while input waits: the open window is emitted, exit 0.
kstream-window --tumbling 1h --count <"$WORK/fifo" >"$WORK/term.out" &
pt=$!
exec 7>"$WORK/fifo"
echo '{"a":1}' >&7
sleep 0.5
kill -TERM "$pt"
wait_exit 10 "$pt"
exec 7>&-
expect_eq 0 "$STATUS" "SIGTERM ends kstream-window cleanly"
expect_contains "$WORK/term.out" '"count":1}'
# --emit-empty ticks on without records.
(echo '{"a":1}'; sleep 2.3) | kstream-window --tumbling 500ms --emit-empty >"$WORK/empty.out"
expect_ge 4 "$(wc -l <"$WORK/empty.out")"
expect_contains "$WORK/empty.out" '"count":0}'

# --- Usage errors exit 2 with a message; nothing on stdout.
for args in "" "--tumbling" "--tumbling 5parsecs" "--tumbling 1s --session 1s" \
  "--sliding 10s" "--every 1s --tumbling 1s" "--sliding 1s --every 2s" \
  "--tumbling 1s --group-by k --emit-empty" "--session 1s --emit-empty" \
  "--tumbling 1s --where" "--tumbling 1s --where a==" "--tumbling 1s --top ten:x" \
  "--tumbling 1s --percentile lat:200" "--tumbling 1s --follow" "--tumbling 1s --bogus" \
  "--tumbling 1s --time-format %Q --time-field t" "--tumbling 1s --delimiter ;" \
  "--stream a/b --tumbling 1s" "--stream s --tumbling 1s -i AT_SEQUENCE_NUMBER"; do
  # shellcheck disable=SC2086  # $args is a command line
  expect_exit 2 kstream-window $args </dev/null
  expect_empty "$OUT" "'$args' printed on stdout"
  expect_contains "$ERR" "kstream-window: error: "
done
expect_exit 2 kstream-window --tumbling 1s --sliding 2s </dev/null
expect_contains "$ERR" "kstream-window --help"

# --- Help, version, SIGPIPE.
expect_ok kstream-window --help
expect_contains "$OUT" "Examples:"
expect_contains "$OUT" "--percentile"
expect_ok kstream-window --version
expect_contains "$OUT" "kstream-window "
expect_ok kstream window --help
set +o pipefail
python3 -c '
import json
for i in range(200000): print(json.dumps({"ts": i, "k": "k%d" % (i % 5000)}))' 2>/dev/null |
  kstream-window --tumbling 1s --time-field ts --group-by k 2>"$WORK/pipe.err" | head -n 1 >/dev/null
st=("${PIPESTATUS[@]}")
set -o pipefail
expect_eq 0 "${st[1]}" "a closed stdout ends kstream-window quietly"
expect_empty "$WORK/pipe.err"

finish
