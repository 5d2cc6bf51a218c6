#!/usr/bin/env bash
# kstream-window: each window kind and aggregate against an independent
# Python computation (window_ref.py and inline checks) over generated data.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

[[ -x $KSTREAM_BIN/kstream-window ]] || fail "$KSTREAM_BIN/kstream-window is missing"
REF="$(dirname "$0")/window_ref.py"
AGGS=(--time-field ts --time-format epoch_ms --group-by k --count --sum v --avg v --min v --max v)

# --- Event time, out of order, lateness, --late: every kind vs the reference.
python3 "$REF" gen 20000 50 1 "$WORK/ev.ndjson"
check_kind() { # KIND SPEC LATENESS_MS kstream-window window flags...
  local kind=$1 spec=$2 lateness=$3
  shift 3
  expect_ok kstream-window "$@" --allowed-lateness "${lateness}ms" "${AGGS[@]}" \
    --late "$WORK/late.ndjson" <"$WORK/ev.ndjson"
  cp "$OUT" "$WORK/out.ndjson"
  expect_py "$kind $spec lateness $lateness matches the reference" \
    'import subprocess, sys; subprocess.run([sys.executable] + sys.argv[1:], check=True, stdout=subprocess.DEVNULL)' \
    "$REF" check "$kind" "$spec" "$lateness" "$WORK/ev.ndjson" "$WORK/out.ndjson" "$WORK/late.ndjson"
}
check_kind tumbling 5000 2000 --tumbling 5s
check_kind tumbling 1000 0 --tumbling 1s
check_kind sliding 10000,2000 1000 --sliding 10s --every 2s
check_kind sliding 3000,3000 500 --sliding 3s --every 3s
check_kind session 300 4000 --session 300ms
check_kind session 2000 0 --session 2s
expect_contains "$ERR" "late record(s) written to $WORK/late.ndjson"
# Without --late, late records are dropped and counted.
expect_ok kstream-window --tumbling 1s "${AGGS[@]}" --stats <"$WORK/ev.ndjson"
expect_contains "$ERR" "late record(s) dropped"
expect_py "stats add up" '
import json, sys
s = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][0])
assert s["records"] == 20000 and s["aggregated"] + s["late"] == 20000 and s["late"] > 0, s
' "$ERR"

# --- Many groups: 5000 keys, windows in order of time.
python3 "$REF" gen 30000 5000 2 "$WORK/many.ndjson"
expect_ok kstream-window --tumbling 10s --allowed-lateness 3s "${AGGS[@]}" <"$WORK/many.ndjson"
cp "$OUT" "$WORK/out.ndjson"
expect_py "5000 keys match the reference" \
  'import subprocess, sys; subprocess.run([sys.executable] + sys.argv[1:], check=True, stdout=subprocess.DEVNULL)' \
  "$REF" check tumbling 10000 3000 "$WORK/many.ndjson" "$WORK/out.ndjson"
expect_py "many groups, windows come out in order" '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
starts = [r["window_start"] for r in rows]
assert starts == sorted(starts)
assert len({r["k"] for r in rows}) > 1000
' "$WORK/out.ndjson"

# --- CSV sensors (the talk's IoT demo) with a strftime time format.
python3 - "$WORK/iot.csv" <<'PY'
import random, sys
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    f.write("Device_Id,temperature,timestamp\n")
    for i in range(6000):
        s = 1458867680 + i // 20
        t = "2016-03-25 %02d:%02d:%02d" % (s // 3600 % 24, s // 60 % 60, s % 60)
        f.write("%d,%d,%s\n" % (r.randrange(1, 21), r.randrange(50, 90), t))
PY
expect_ok kstream-window --csv --tumbling 5s --time-field timestamp \
  --time-format '%Y-%m-%d %H:%M:%S' --group-by Device_Id --avg temperature --max temperature \
  <"$WORK/iot.csv"
expect_py "CSV windows per device match" '
import csv, json, sys
from collections import defaultdict
from datetime import datetime, timezone
want = defaultdict(list)
for row in csv.DictReader(open(sys.argv[1])):
    t = int(datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp())
    want[(t // 5 * 5, int(row["Device_Id"]))].append(int(row["temperature"]))
got = {}
for l in open(sys.argv[2]):
    o = json.loads(l)
    start = int(datetime.strptime(o["window_start"], "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=timezone.utc).timestamp())
    got[(start, o["Device_Id"])] = (o["avg_temperature"], o["max_temperature"])
assert set(got) == set(want), (len(got), len(want))
for k, v in want.items():
    assert abs(got[k][0] - sum(v) / len(v)) < 1e-9 and got[k][1] == max(v), (k, got[k], v)
' "$WORK/iot.csv" "$OUT"
# Tab-separated, no header line, quoted fields.
printf '1\t"a\tb"\t5\n1\t"x"\t7\n2\tc\t1\n' >"$WORK/t.tsv"
expect_ok kstream-window --csv --delimiter tab --header id,name,v --tumbling 1h --group-by id \
  --sum v --top 1:name <"$WORK/t.tsv"
expect_contains "$OUT" '"id":1,"sum_v":12,"top_name":[{"value":"a\tb","count":1}]'
expect_contains "$OUT" '"id":2,"sum_v":1'
expect_exit 1 kstream-window --csv --tumbling 1s --group-by nope <"$WORK/iot.csv"
expect_contains "$ERR" "column 'nope' is not in the CSV header"

# --- --where: precedence, string operators, regex, numbers vs numeric strings.
python3 - "$WORK/w.ndjson" <<'PY'
import json, random, sys
r = random.Random(4)
words = ["Open-Source", "open source", "closed", "Kinesis", "spark"]
with open(sys.argv[1], "w") as f:
    for i in range(5000):
        f.write(json.dumps({"ts": 1700000000 + i, "text": " ".join(r.sample(words, 2)),
                            "code": str(r.choice([200, 404, 500])), "n": r.randrange(10),
                            "flag": r.random() < 0.5}) + "\n")
PY
where_check() { # EXPR PYTHON_PREDICATE_ON_o
  expect_ok kstream-window --tumbling 1h --time-field ts --where "$1" <"$WORK/w.ndjson"
  expect_py "--where $1" '
import json, sys
want = sum(1 for l in open(sys.argv[1]) for o in [json.loads(l)] if eval(sys.argv[3]))
got = sum(json.loads(l)["count"] for l in open(sys.argv[2]))
assert got == want, (got, want)
' "$WORK/w.ndjson" "$OUT" "$2"
}
where_check 'text contains "Open-Source"' '"Open-Source" in o["text"]'
where_check 'n < 3 || n > 7 && flag' 'o["n"] < 3 or (o["n"] > 7 and o["flag"])'
where_check '(n < 3 || n > 7) && flag' '(o["n"] < 3 or o["n"] > 7) and o["flag"]'
where_check '!n == 4 && !(code == 404 || code == "500")' 'o["n"] != 4 and o["code"] == "200"'
where_check 'text =~ "^(Open|Kin)" && code >= 300' 'o["text"].startswith(("Open", "Kin")) and int(o["code"]) >= 300'
where_check 'text startswith "spark" || text endswith "closed"' 'o["text"].startswith("spark") or o["text"].endswith("closed")'
expect_exit 2 kstream-window --tumbling 1s --where 'n == (1' </dev/null
expect_contains "$ERR" "--where"
expect_contains "$ERR" "column"

# --- Malformed lines: skipped and counted, or --strict stops at the line.
{
  head -n 100 "$WORK/ev.ndjson"
  echo 'not json'
  echo '{"ts":1700000000500,"k":"key-1","v":"many"}'
  echo '{"ts":"yesterday","k":"key-1","v":1}'
  echo '{"ts":1700000000500,"v":1}'
  echo ''
  echo '{"ts":1700000000500,"k":"key-1","v":"2.5"}'
  tail -n 100 "$WORK/ev.ndjson"
} >"$WORK/bad.ndjson"
expect_ok kstream-window --tumbling 1h "${AGGS[@]}" <"$WORK/bad.ndjson"
expect_contains "$ERR" "skipped 4 invalid record(s); first: line 101: invalid JSON"
expect_py "bad lines are left out, numeric strings count" '
import json, sys
assert sum(json.loads(l)["count"] for l in open(sys.argv[1])) == 201
' "$OUT"
expect_exit 1 kstream-window --tumbling 1h "${AGGS[@]}" --strict <"$WORK/bad.ndjson"
expect_contains "$ERR" "kstream-window: error: line 101: invalid JSON"
sed -n '1,100p;102p' "$WORK/bad.ndjson" >"$WORK/bad2.ndjson"
expect_exit 1 kstream-window --tumbling 1h "${AGGS[@]}" --strict <"$WORK/bad2.ndjson"
expect_contains "$ERR" "line 101: field 'v' is not a number"

finish
