#!/usr/bin/env bash
# kstream-agent while a writer appends: the file is rotated by rename 20
# times (the old name no longer matches the glob; the writer keeps writing to
# the renamed file for a moment, like a late HUP) and by copytruncate 5 times
# (the copies match the glob); lines are sometimes written in two pieces.
# The stream holds every line exactly once, intact.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

# writer PATH MODE LINES_PER_ROUND ROTATIONS: appends "line-<n> <pad>" lines,
# rotating PATH between rounds; prints the number of lines written.
writer() {
  python3 -c '
import os, shutil, sys, time
path, mode, per, rotations = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
n = 0
f = open(path, "a")
def line():
    global n
    n += 1
    text = "line-%07d %s\n" % (n, "x" * (n % 50))
    if n % 7 == 0:  # in two pieces: the reader may see half a line
        f.write(text[:9]); f.flush(); f.write(text[9:])
    else:
        f.write(text)
    f.flush()
for r in range(rotations + 1):
    for i in range(per):
        line()
        if i % 50 == 0:
            time.sleep(0.002)
    if r == rotations:
        break
    if mode == "rename":
        os.rename(path, "%s.%d" % (path, r + 1))
        for i in range(5):  # still writing to the renamed file
            line()
        time.sleep(0.01)
        f.close()
        f = open(path, "a")
    else:  # copytruncate, as logrotate does it (the writer pauses meanwhile)
        shutil.copyfile(path, "%s.%d" % (path, r + 1))
        os.truncate(path, 0)
f.close()
print(n)
' "$@"
}

# check_exactly_once STREAM N: lines 1..N each once, padding intact.
check_exactly_once() {
  kstream-get "$1" >"$WORK/$1.got"
  expect_py "every line exactly once in $1" '
import sys
n = int(sys.argv[2])
got = open(sys.argv[1]).read().split("\n")[:-1]
seen = {}
for rec in got:
    num, pad = rec.split(" ", 1) if " " in rec else (rec, "")
    i = int(num[5:])
    assert pad == "x" * (i % 50), "damaged record %r" % rec
    seen[i] = seen.get(i, 0) + 1
dups = {i: c for i, c in seen.items() if c > 1}
missing = [i for i in range(1, n + 1) if i not in seen]
assert not dups and not missing and len(seen) == n, (
    "records %d, distinct %d, expected %d; duplicated %s; missing %s" %
    (len(got), len(seen), n, sorted(dups)[:10], missing[:10]))
' "$WORK/$1.got" "$2"
}

# run_case STREAM GLOB MODE PER ROTATIONS
run_case() {
  local stream=$1 glob=$2 mode=$3 per=$4 rotations=$5
  expect_ok kstream create "$stream" --shards 2
  mkdir -p "$WORK/$stream"
  : >"$WORK/$stream/app.log"
  kstream-agent -f "$WORK/$stream/$glob" -s "$stream" --max-buffer-age 100ms \
    --max-buffer-records 100 --checkpoint-file "$WORK/$stream.cp" \
    >"$WORK/$stream.out" 2>"$WORK/$stream.err" &
  local agent=$!
  # The writer starts once the agent knows the empty file (its checkpoint
  # lists it at offset 0): a file found later would be read from its end
  # (END_OF_FILE), and the lines written before that would never be sent.
  wait_until 20 "the agent has found $stream/app.log" \
    grep -q "\"path\":\"$WORK/$stream/app.log\"" "$WORK/$stream.cp"
  local n
  n=$(writer "$WORK/$stream/app.log" "$mode" "$per" "$rotations")
  local want=$((per * (rotations + 1)))
  [[ $mode == rename ]] && want=$((want + 5 * rotations))
  expect_eq "$want" "$n" "lines written"
  wait_until 30 "$n records in $stream" has_records "$stream" "$n"
  sleep 0.3  # a late duplicate would show up now
  kill -TERM "$agent"
  wait_exit 10 "$agent"
  expect_eq 0 "$STATUS" "agent exit status"
  check_exactly_once "$stream" "$n"
}
has_records() { (($(count_records "$1") >= $2)); }

run_case renamed app.log rename 1000 20
ls "$WORK/renamed" >"$WORK/renamed.ls"
expect_lines 21 "$WORK/renamed.ls"
run_case copied 'app.log*' copytruncate 3000 5
ls "$WORK/copied" >"$WORK/copied.ls"
expect_lines 6 "$WORK/copied.ls"

finish
