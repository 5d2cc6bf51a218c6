# shellcheck shell=bash
# Shared helpers for the CLI tests in tests/cli/*.sh. Source it first thing:
#
#   source "$(dirname "$0")/lib.bash"
#
# It gives every script a fresh, private KSTREAM_HOME (removed on exit, along
# with every background process the script started), puts $KSTREAM_BIN first
# on PATH, and provides assertions that count passed checks and stop the
# script with "expected vs actual" on the first failure. End with `finish`.
#
# Environment: KSTREAM_BIN (build dir with the binaries), KSTREAM_SRC (repo).
# Set KSTREAM_KEEP_TMP=1 to keep the temporary directory for inspection.

set -euo pipefail

: "${KSTREAM_BIN:?set KSTREAM_BIN to the build directory holding kstream, kstream-put, kstream-get}"
: "${KSTREAM_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export KSTREAM_BIN KSTREAM_SRC

for _tool in kstream kstream-put kstream-get; do
  if [[ ! -x "$KSTREAM_BIN/$_tool" ]]; then
    echo "error: $KSTREAM_BIN/$_tool is missing (build it first)" >&2
    exit 1
  fi
done
unset _tool

TEST_NAME="cli.$(basename "${BASH_SOURCE[1]:-$0}" .sh)"
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kstream-$TEST_NAME.XXXXXX")
KSTREAM_HOME="$TEST_TMP/home"
mkdir -p "$KSTREAM_HOME"
# Scratch files of the script (inputs, outputs, captured stderr).
WORK="$TEST_TMP/work"
mkdir -p "$WORK"
PATH="$KSTREAM_BIN:$PATH"
export KSTREAM_HOME PATH
unset KSTREAM_ENDPOINT
export LC_ALL=C

CHECKS=0
_FINISHED=0

# Kills pid and everything below it (children first do not get reparented
# away: collect the tree, then signal it).
_kill_tree() {
  local pid=$1 child
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
    _kill_tree "$child"
  done
  kill -KILL "$pid" 2>/dev/null || true
}

_on_exit() {
  local rc=$?
  set +e
  local child
  exec 3>&2 2>/dev/null  # no "Killed" job notices
  for child in $(ps -o pid= --ppid $$); do
    _kill_tree "$child"
  done
  wait
  exec 2>&3 3>&-
  if [[ ${KSTREAM_KEEP_TMP:-0} == 1 ]]; then
    echo "$TEST_NAME: kept $TEST_TMP" >&2
  else
    rm -rf "$TEST_TMP"
  fi
  if [[ $_FINISHED != 1 ]]; then
    [[ $rc == 0 ]] && rc=1
    echo "$TEST_NAME: FAILED after $CHECKS passed checks" >&2
  fi
  exit "$rc"
}
trap _on_exit EXIT
trap 'echo "$TEST_NAME: unexpected failure (status $?) at ${BASH_SOURCE[0]}:$LINENO: $BASH_COMMAND" >&2' ERR

# Where the failing check was called from.
_caller() {
  local i
  for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
    if [[ ${BASH_SOURCE[i]} != "${BASH_SOURCE[0]}" ]]; then
      echo "$(basename "${BASH_SOURCE[i]}"):${BASH_LINENO[i - 1]}"
      return
    fi
  done
  echo "?"
}

# Shows at most the first 40 lines / 4000 bytes of a file, indented.
_show() {
  if [[ -s $1 ]]; then
    head -c 4000 "$1" | head -n 40 | sed 's/^/    | /'
  else
    echo "    (empty)"
  fi
}

fail() {
  {
    echo "FAIL [$TEST_NAME] at $(_caller): $1"
    shift
    local line
    for line in "$@"; do echo "  $line"; done
  } >&2
  exit 1
}

pass() { CHECKS=$((CHECKS + 1)); }

# Last command run by expect_exit / run: its status and captured output.
OUT="$WORK/last.out"
ERR="$WORK/last.err"
STATUS=0

# run CMD...: runs CMD with stdout in $OUT and stderr in $ERR, status in
# $STATUS; never fails the script. Stdin is the caller's (redirect the call).
run() {
  STATUS=0
  "$@" >"$OUT" 2>"$ERR" || STATUS=$?
}

# expect_exit CODE CMD...: CMD must exit with CODE (output kept in $OUT/$ERR).
expect_exit() {
  local want=$1
  shift
  run "$@"
  if [[ $STATUS != "$want" ]]; then
    echo "FAIL [$TEST_NAME] at $(_caller): '$*' exited $STATUS, expected $want" >&2
    echo "  stdout:" >&2
    _show "$OUT" >&2
    echo "  stderr:" >&2
    _show "$ERR" >&2
    exit 1
  fi
  pass
}

# expect_ok CMD...: expect_exit 0.
expect_ok() { expect_exit 0 "$@"; }

# expect_eq EXPECTED ACTUAL [WHAT]
expect_eq() {
  if [[ "$1" != "$2" ]]; then
    fail "${3:-values differ}" "expected: $(printf '%q' "$1")" "actual:   $(printf '%q' "$2")"
  fi
  pass
}

# expect_ne UNWANTED ACTUAL [WHAT]
expect_ne() {
  if [[ "$1" == "$2" ]]; then
    fail "${3:-value is the unwanted one}" "unwanted: $(printf '%q' "$1")"
  fi
  pass
}

# expect_ge MIN ACTUAL [WHAT]: integers.
expect_ge() {
  if ! (($2 >= $1)); then
    fail "${3:-value too small}" "expected: >= $1" "actual:   $2"
  fi
  pass
}

# expect_contains FILE TEXT: FILE has TEXT (fixed string) somewhere.
expect_contains() {
  if ! grep -qF -- "$2" "$1"; then
    fail "$(basename "$1") does not contain $(printf '%q' "$2")" "$(basename "$1"):" "$(_show "$1")"
  fi
  pass
}

# expect_not_contains FILE TEXT
expect_not_contains() {
  if grep -qF -- "$2" "$1"; then
    fail "$(basename "$1") contains $(printf '%q' "$2")" "$(basename "$1"):" "$(_show "$1")"
  fi
  pass
}

# expect_empty FILE [WHAT]: FILE exists and is empty.
expect_empty() {
  if [[ ! -e $1 || -s $1 ]]; then
    fail "${2:-$(basename "$1") should be empty}" "$(basename "$1"):" "$(_show "$1")"
  fi
  pass
}

# expect_lines N FILE: FILE has exactly N newline-terminated lines.
expect_lines() {
  local n
  n=$(wc -l <"$2")
  expect_eq "$1" "$((n))" "line count of $(basename "$2")"
}

# expect_same_file EXPECTED ACTUAL [WHAT]: byte-for-byte equal.
expect_same_file() {
  if ! cmp -s -- "$1" "$2"; then
    fail "${3:-files differ}: $(basename "$1") vs $(basename "$2")" \
      "$(cmp -- "$1" "$2" 2>&1 | head -n 1)" \
      "sizes: $(wc -c <"$1") vs $(wc -c <"$2") bytes"
  fi
  pass
}

# expect_py WHAT SCRIPT [ARGS...]: a python check (stdlib only) that exits 0
# when it holds and prints why when it does not.
expect_py() {
  local what=$1 script=$2
  shift 2
  local msg rc=0
  msg=$(python3 -c "$script" "$@" 2>&1) || rc=$?
  if [[ $rc != 0 ]]; then
    fail "$what" "$msg"
  fi
  pass
}

# wait_until SECONDS WHAT CMD...: polls CMD (every 50 ms) until it succeeds;
# fails the check after SECONDS. A bound for waiting, not a timing assertion.
wait_until() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs + 1))
  while ! "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      fail "timed out after ${secs}s waiting for: $what"
    fi
    sleep 0.05
  done
  pass
}

# mount_tmpfs SIZE: mounts a tmpfs of SIZE at $MNT ($WORK/mnt) for a
# full-disk test, unmounted at exit. False, with nothing mounted, where this
# process may not mount (not root).
MNT="$WORK/mnt"
mount_tmpfs() {
  mkdir -p "$MNT"
  [[ $(id -u) == 0 ]] && mount -t tmpfs -o "size=$1" kstream-test "$MNT" 2>/dev/null || return 1
  trap 'rc=$?; umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true; (exit $rc); _on_exit' EXIT
}

# has_lines N FILE: true when FILE has at least N lines (for wait_until).
has_lines() { [[ -e $2 ]] && (($(wc -l <"$2") >= $1)); }

# leases_of STREAM GROUP: "owner count" lines of live leases, sorted.
leases_of() {
  kstream group "$1" "$2" --json | python3 -c '
import collections, json, sys
g = json.load(sys.stdin)
c = collections.Counter(s["LeaseOwner"] for s in g["Shards"] if s["LeaseLive"])
for owner, n in sorted(c.items()):
    print(owner, n)'
}
# leases_settled STREAM GROUP "OWNER N ...": the live leases are split so.
leases_settled() { [[ $(leases_of "$1" "$2" | tr '\n' ' ') == "$3" ]]; }
# leases_known STREAM GROUP WORKER...: each worker's -v log ($WORK/WORKER.err)
# agrees with the table on which leases it holds (a victim of a steal has
# noticed).
leases_known() {
  local stream=$1 group=$2
  shift 2
  kstream group "$stream" "$group" --json >"$WORK/known.json"
  python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
from group_log import held_checkpoints
g = json.load(open(sys.argv[2]))
for w in sys.argv[3:]:
    held = set(held_checkpoints(w + ".err"))
    table = {s["ShardId"] for s in g["Shards"] if s["LeaseOwner"] == w.rsplit("/", 1)[1] and s["LeaseLive"]}
    assert held == table, (w, held, table)
' "$KSTREAM_SRC/tests/cli" "$WORK/known.json" "${@/#/$WORK/}"
}

# wait_exit SECONDS PID: waits for background PID to end (bounded) and
# stores its exit status in $STATUS. Fails the check if it does not end.
wait_exit() {
  local secs=$1 pid=$2
  _wait_exit_quiet "$secs" "$pid" 2>/dev/null  # no "Killed" job notices
  if [[ $STATUS == timeout ]]; then
    fail "process $pid did not exit within ${secs}s"
  fi
}
_wait_exit_quiet() {
  local secs=$1 pid=$2
  local deadline=$((SECONDS + secs + 1))
  STATUS=0
  while kill -0 "$pid"; do
    # A zombie still answers kill -0; `wait` reaps it below.
    if [[ $(ps -o stat= -p "$pid") == Z* ]]; then break; fi
    if ((SECONDS >= deadline)); then
      STATUS=timeout
      return
    fi
    sleep 0.05
  done
  wait "$pid" || STATUS=$?
  : # let the shell report the job while stderr is still redirected
}

# "${SIGINT_DEFAULT[@]}" CMD... &: execs CMD with SIGINT at its default
# disposition (bash starts background commands with SIGINT ignored, which a
# tool may rightly keep). $! is then CMD's pid.
# shellcheck disable=SC2034  # used by the scripts
SIGINT_DEFAULT=(python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])')

# count_records STREAM [ARGS...]: number of records kstream-get prints.
count_records() {
  kstream-get "$@" --json | wc -l | tr -d ' '
}

finish() {
  _FINISHED=1
  echo "$TEST_NAME: $CHECKS checks passed"
  exit 0
}
