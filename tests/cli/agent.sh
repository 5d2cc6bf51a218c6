#!/usr/bin/env bash
# kstream-agent: agent.json with unknown and AWS-only keys, invalid values
# naming their key path, --once and its checkpoints, a partial last line
# completed later, multi-line stack traces, a glob that matches nothing yet,
# SIGTERM flushing and checkpointing, LOGTOJSON/CSVTOJSON end to end, and the
# errors (missing stream, a checkpoint file in use).
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

LOGS="$WORK/logs"
mkdir -p "$LOGS"
expect_ok kstream create logs --shards 2

# records STREAM: the stream's records, one per line, sorted.
records() { kstream-get "$1" | sort; }
# nul_records STREAM: the stream's records as a Python list (multi-line safe).
nul_records() {
  kstream-get "$1" -0 | python3 -c 'import sys; print(sorted(sys.stdin.read().split("\0")[:-1]))'
}
# has_records STREAM N: the stream holds at least N records (for wait_until).
has_records() { (($(count_records "$1") >= $2)); }
# stat_field FILE KEY: the last --stats line's flows[0][KEY].
stat_field() {
  tail -n 1 "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["flows"][0][sys.argv[1]])' "$2"
}

# --- help, flags
expect_ok kstream-agent --help
expect_contains "$OUT" "Examples:"
expect_contains "$OUT" "--multiline"
expect_ok kstream agent --help  # git-style dispatch
expect_contains "$OUT" "Usage: kstream-agent"
expect_exit 2 kstream-agent --file "$LOGS/x.log"
expect_contains "$ERR" "--stream"
expect_exit 2 kstream-agent -f "$LOGS/x.log" -s logs --format LOGTOJSON:NGINX
expect_contains "$ERR" "unknown log format 'NGINX'"
expect_exit 2 kstream-agent -f "$LOGS/*/x.log" -s logs
expect_contains "$ERR" "wildcards are allowed in the file name only"

# --- agent.json: unknown keys warn, AWS keys are one notice, --once reads all.
printf 'one\ntwo\n' >"$LOGS/app-1.log"
printf 'three\n' >"$LOGS/app-2.log"
printf 'skipped\n' >"$LOGS/app-1.log.gz"
cat >"$WORK/agent.json" <<JSON
{
  "checkpointFile": "$WORK/cp/checkpoints",
  "cloudwatch.emitMetrics": false,
  "awsAccessKeyId": "AKIAEXAMPLE",
  "colour": "blue",
  "flows": [
    { "filePattern": "$LOGS/app-*.log*", "kinesisStream": "logs",
      "initialPosition": "START_OF_FILE", "maxBufferAgeMillis": "1000", "speed": 3 }
  ]
}
JSON
expect_ok kstream-agent -c "$WORK/agent.json" --once
expect_contains "$ERR" "kstream-agent: $WORK/agent.json: warning: unknown key 'colour' (ignored)"
expect_contains "$ERR" "warning: unknown key 'flows[0].speed' (ignored)"
expect_contains "$ERR" "notice: ignoring settings that only apply on AWS: cloudwatch.emitMetrics, awsAccessKeyId"
expect_eq "$(printf 'one\nthree\ntwo')" "$(records logs)" "every matching file read, .gz skipped"
expect_contains "$WORK/cp/checkpoints" '"offset":8'
# Again: nothing new, nothing repeated.
expect_ok kstream-agent -c "$WORK/agent.json" --once -q
expect_empty "$ERR"
expect_eq 3 "$(count_records logs)"

# --- invalid values stop start-up with the key's path (exit 2).
bad_config() {
  printf '{"flows":[{"filePattern":"%s/x","kinesisStream":"logs",%s}]}' "$LOGS" "$1" >"$WORK/bad.json"
  expect_exit 2 kstream-agent -c "$WORK/bad.json" --once
}
bad_config '"maxBufferSizeRecords": 0'
expect_contains "$ERR" "kstream-agent: error: $WORK/bad.json: flows[0].maxBufferSizeRecords: must be between 1 and 500 (got 0)"
bad_config '"initialPosition": "MIDDLE"'
expect_contains "$ERR" "flows[0].initialPosition: must be one of START_OF_FILE, END_OF_FILE"
bad_config '"dataProcessingOptions": [{"optionName": "LOGTOJSON", "logFormat": "SYSLOG", "matchPattern": "(x", "customFieldNames": ["a"]}]'
expect_contains "$ERR" "flows[0].dataProcessingOptions[0]: invalid regular expression '(x'"
printf '{"flows": [' >"$WORK/bad.json"
expect_exit 2 kstream-agent -c "$WORK/bad.json"
expect_contains "$ERR" "not valid JSON"
expect_exit 1 kstream-agent -c "$WORK/missing.json"
expect_contains "$ERR" "missing.json"

# --- a missing stream is a failure with a hint.
expect_exit 1 kstream-agent -f "$LOGS/app-1.log" -s nosuch --once
expect_contains "$ERR" "stream 'nosuch' does not exist (create it with: kstream create nosuch)"

# --- a partial last line is held until it is completed.
expect_ok kstream create part
printf 'alpha\nbeta\ngam' >"$LOGS/part.log"
PART=(kstream-agent -f "$LOGS/part.log" -s part --initial-position START_OF_FILE
  --checkpoint-file "$WORK/part.cp")
expect_ok "${PART[@]}" --once --stats
expect_eq "$(printf 'alpha\nbeta')" "$(records part)"
expect_eq 2 "$(stat_field "$OUT" recordsSent)"
printf 'ma\ndelta\n' >>"$LOGS/part.log"
expect_ok "${PART[@]}" --once
expect_eq "$(printf 'alpha\nbeta\ndelta\ngamma')" "$(records part)" "completed line sent once"

# ... and while running: held, then sent when its newline arrives.
printf 'epsi' >>"$LOGS/part.log"
"${PART[@]}" --max-buffer-age 50ms >"$WORK/part.out" 2>"$WORK/part.err" &
agent=$!
sleep 0.5
expect_eq 4 "$(count_records part)" "partial line held"
printf 'lon\n' >>"$LOGS/part.log"
wait_until 10 "completed line sent" has_records part 5
kill -TERM "$agent"
wait_exit 10 "$agent"
expect_eq 0 "$STATUS" "exit status after SIGTERM"
expect_eq "$(printf 'alpha\nbeta\ndelta\nepsilon\ngamma')" "$(records part)"

# --- multi-line stack traces.
expect_ok kstream create traces
cat >"$LOGS/java.log" <<'LOG'
2024-05-01 12:00:00 INFO starting
2024-05-01 12:00:01 ERROR request failed
java.lang.IllegalStateException: boom
	at com.example.Handler.handle(Handler.java:42)
	at com.example.Server.run(Server.java:7)
Caused by: java.io.IOException: closed
	... 2 more
2024-05-01 12:00:02 INFO recovered
2024-05-01 12:00:03 ERROR again
	at com.example.Handler.handle(Handler.java:43)
LOG
expect_ok kstream-agent -f "$LOGS/java.log" -s traces --multiline '^\d{4}-\d{2}-\d{2} ' \
  --initial-position START_OF_FILE --checkpoint-file "$WORK/traces.cp" --once
expect_eq "$(python3 -c 'print(sorted([
  "2024-05-01 12:00:00 INFO starting",
  "2024-05-01 12:00:01 ERROR request failed\njava.lang.IllegalStateException: boom\n\tat com.example.Handler.handle(Handler.java:42)\n\tat com.example.Server.run(Server.java:7)\nCaused by: java.io.IOException: closed\n\t... 2 more",
  "2024-05-01 12:00:02 INFO recovered",
  "2024-05-01 12:00:03 ERROR again\n\tat com.example.Handler.handle(Handler.java:43)"]))')" \
  "$(nul_records traces)" "stack traces are one record each"
# SINGLELINE after multi-line grouping, per the Kinesis Agent.
expect_ok kstream create flat
expect_ok kstream-agent -f "$LOGS/java.log" -s flat --multiline '^\d{4}-' --format SINGLELINE \
  --initial-position START_OF_FILE --checkpoint-file "$WORK/flat.cp" --once
expect_contains <(records flat) "2024-05-01 12:00:03 ERROR againat com.example.Handler.handle(Handler.java:43)"

# --- a glob that matches nothing yet (in a directory that does not exist yet).
expect_ok kstream create later
kstream-agent -f "$WORK/later/*.log" -s later --max-buffer-age 50ms \
  --checkpoint-file "$WORK/later.cp" >/dev/null 2>"$WORK/later.err" &
agent=$!
sleep 0.3
mkdir -p "$WORK/later"
printf 'first\n' >"$WORK/later/a.log"
wait_until 10 "a file appearing later is read from its start" has_records later 1
printf 'second\nthird\n' >"$WORK/later/b.log"
printf 'fourth\n' >>"$WORK/later/a.log"
wait_until 10 "a second file and more lines" has_records later 4
kill -TERM "$agent"
wait_exit 10 "$agent"
expect_eq 0 "$STATUS"
expect_eq "$(printf 'first\nfourth\nsecond\nthird')" "$(records later)"

# --- SIGTERM flushes a batch that is still filling, checkpoints, exits 0.
expect_ok kstream create term
printf 'old\n' >"$LOGS/term.log"
kstream-agent -f "$LOGS/term.log" -s term --max-buffer-age 15m --stats --stats-interval 50ms \
  --checkpoint-file "$WORK/term.cp" >"$WORK/term.out" 2>"$WORK/term.err" &
agent=$!
wait_until 10 "agent started" test -s "$WORK/term.out"
printf 'new1\nnew2\n' >>"$LOGS/term.log"
wait_until 10 "lines read" grep -q '"linesRead":2' "$WORK/term.out"
expect_eq 0 "$(count_records term)" "END_OF_FILE by default; batch not yet sent"
# A second agent may not share the checkpoint file.
expect_exit 1 kstream-agent -f "$LOGS/term.log" -s term --checkpoint-file "$WORK/term.cp" --once
expect_contains "$ERR" "another kstream-agent is using the checkpoint file $WORK/term.cp"
kill -TERM "$agent"
wait_exit 10 "$agent"
expect_eq 0 "$STATUS"
expect_eq "$(printf 'new1\nnew2')" "$(records term)"
expect_contains "$WORK/term.cp" "\"offset\":$(wc -c <"$LOGS/term.log")"
printf 'new3\n' >>"$LOGS/term.log"
expect_ok kstream-agent -f "$LOGS/term.log" -s term --checkpoint-file "$WORK/term.cp" --once
expect_eq "$(printf 'new1\nnew2\nnew3')" "$(records term)" "restart resumes at the checkpoint"

# --- LOGTOJSON: unmatched lines are counted and reported, or sent raw.
expect_ok kstream create web
cat >"$LOGS/access.log" <<'LOG'
127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326
this is not an access log line
192.0.2.1 - - [10/Oct/2000:13:55:37 -0700] "POST /form HTTP/1.1" 302 -
LOG
WEB=(kstream-agent -f "$LOGS/access.log" -s web --format LOGTOJSON:COMMONAPACHELOG
  --initial-position START_OF_FILE --once --stats)
expect_ok "${WEB[@]}" --checkpoint-file "$WORK/web1.cp"
expect_contains "$ERR" "1 line(s) did not match the LOGTOJSON pattern"
expect_eq 1 "$(stat_field "$OUT" parseFailures)"
expect_eq 2 "$(stat_field "$OUT" recordsSent)"
expect_contains <(records web) '{"host":"127.0.0.1","ident":"user-identifier","authuser":"frank","datetime":"10/Oct/2000:13:55:36 -0700","request":"GET /apache_pb.gif HTTP/1.0","response":"200","bytes":"2326"}'
expect_contains <(records web) '{"host":"192.0.2.1","ident":null,"authuser":null,"datetime":"10/Oct/2000:13:55:37 -0700","request":"POST /form HTTP/1.1","response":"302","bytes":null}'
expect_ok "${WEB[@]}" --checkpoint-file "$WORK/web2.cp" --send-unmatched
expect_eq 5 "$(count_records web)"
expect_contains <(records web) "this is not an access log line"

# --- CSVTOJSON with a header line, DETERMINISTIC keys.
expect_ok kstream create sensors
printf 'Device_Id,temperature,timestamp\n1,65,2016-03-25 01:01:20\n2,,2016-03-25 01:01:21\n' >"$LOGS/iot.csv"
expect_ok kstream-agent -f "$LOGS/iot.csv" -s sensors --format CSVTOJSON \
  --fields Device_Id,temperature,timestamp --skip-header-lines 1 --partition-key DETERMINISTIC \
  --initial-position START_OF_FILE --checkpoint-file "$WORK/iot.cp" --once
expect_eq '{"Device_Id":"1","temperature":"65","timestamp":"2016-03-25 01:01:20"}
{"Device_Id":"2","temperature":"","timestamp":"2016-03-25 01:01:21"}' "$(records sensors)"
key=$(kstream-get sensors --json | python3 -c '
import base64, hashlib, json, sys
for line in sys.stdin:
    e = json.loads(line)
    assert e["PartitionKey"] == hashlib.md5(base64.b64decode(e["Data"])).hexdigest(), e
print("ok")')
expect_eq ok "$key" "DETERMINISTIC keys are the MD5 of the record"

# --- a line over the Kinesis limit is cut and ends with truncatedRecordTerminator.
expect_ok kstream create big
python3 -c 'import sys; sys.stdout.write("short\n" + "x" * (2 << 20) + "\nafter\n")' >"$LOGS/big.log"
cat >"$WORK/big.json" <<JSON
{ "checkpointFile": "$WORK/big.cp",
  "flows": [ { "filePattern": "$LOGS/big.log", "kinesisStream": "big",
               "initialPosition": "START_OF_FILE", "partitionKeyOption": "DETERMINISTIC",
               "truncatedRecordTerminator": "[cut]" } ] }
JSON
expect_ok kstream-agent -c "$WORK/big.json" --once --stats
expect_eq 1 "$(stat_field "$OUT" truncatedRecords)"
expect_py "the long line is cut to 1 MiB with its key, ending in the terminator" '
import base64, json, subprocess
out = subprocess.run(["kstream-get", "big", "--json"], capture_output=True, text=True).stdout
recs = {}
for line in out.splitlines():
    e = json.loads(line)
    d = base64.b64decode(e["Data"])
    recs[d[:5]] = (e["PartitionKey"], d)
assert set(recs) == {b"short", b"xxxxx", b"after"}, list(recs)
key, data = recs[b"xxxxx"]
assert len(key) + len(data) == 1048576, (len(key), len(data))
assert data.endswith(b"[cut]") and data[:-5] == b"x" * (len(data) - 5)'

# --- two flows, two streams, converters in order; ADDMETADATA from flags.
expect_ok kstream create app
expect_ok kstream create sys
printf 'Jun  7 03:14:07 web-01 sshd[2231]: Accepted publickey\n' >"$LOGS/auth.log"
printf 'plain line\n' >"$LOGS/app.txt"
cat >"$WORK/two.json" <<JSON
{ "checkpointFile": "$WORK/two.cp",
  "flows": [
    { "filePattern": "$LOGS/auth.log", "kinesisStream": "sys", "initialPosition": "START_OF_FILE",
      "dataProcessingOptions": [
        { "optionName": "LOGTOJSON", "logFormat": "RFC3164SYSLOG" } ] },
    { "filePattern": "$LOGS/app.txt", "kinesisStream": "app", "initialPosition": "START_OF_FILE",
      "dataProcessingOptions": [
        { "optionName": "ADDMETADATA", "metadata": {"env": "prod"} } ] } ] }
JSON
expect_ok kstream-agent -c "$WORK/two.json" --once -v
expect_contains "$ERR" "kinesis:sys:$LOGS/auth.log: 1 lines read, 1 records sent"
expect_eq '{"timestamp":"Jun  7 03:14:07","hostname":"web-01","program":"sshd","processid":"2231","message":"Accepted publickey"}' \
  "$(records sys)"
expect_eq '{"metadata":{"env":"prod"},"data":"plain line"}' "$(records app)"
expect_ok kstream-agent -f "$LOGS/app.txt" -s app --format ADDMETADATA --metadata '[1,"x"]' \
  --timestamp --initial-position START_OF_FILE --checkpoint-file "$WORK/meta.cp" --once
expect_py "ADDMETADATA with ts from flags" '
import json, re, subprocess
recs = [json.loads(l) for l in subprocess.run(["kstream-get", "app"], capture_output=True, text=True).stdout.splitlines()]
r = [r for r in recs if "ts" in r][0]
assert list(r) == ["ts", "metadata", "data"], r
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"]), r
assert r["metadata"] == [1, "x"] and r["data"] == "plain line", r'
# The same flow twice is refused.
sed 's|app.txt", "kinesisStream": "app"|auth.log", "kinesisStream": "sys"|' "$WORK/two.json" >"$WORK/dup.json"
expect_exit 2 kstream-agent -c "$WORK/dup.json" --once
expect_contains "$ERR" "flows[1]: the same filePattern and stream as flows[0]"

finish
