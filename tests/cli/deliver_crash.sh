#!/usr/bin/env bash
# kstream-deliver under kill -9: a large backlog is delivered by an instance
# killed at random points while it writes files, and restarted each time
# (same --worker id, so it takes its leases back at once); the final files
# hold every record exactly once, no staged file is left over and no partial
# file carries a final name.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

N=300000
kstream create backlog --shards 4 >/dev/null
seq 1 "$N" | sed 's/^/rec-/' | kstream-put backlog
mkdir "$WORK/arch"
DELIVER=(kstream-deliver backlog --to "$WORK/arch" --compress zstd --level 1 --buffer-size 2KiB
  --worker crashy --until-caught-up)
final_files() {
  find "$WORK/arch" -path "$WORK/arch/.kstream-deliver" -prune -o -type f -print | wc -l
}
alive() { [[ $(ps -o stat= -p "$1") != Z* ]] && kill -0 "$1" 2>/dev/null; }

RANDOM=4242  # the same kill points in every run
kills=0 finished=0
for round in $(seq 1 15); do
  before=$(final_files)
  "${DELIVER[@]}" 2>"$WORK/round.err" &  # not in a function: $! is the tool
  pid=$!
  # Kill only once it is writing files, a random moment after it made some.
  for ((i = 0; i < 1000; i++)); do
    alive "$pid" || break
    (($(final_files) > before)) && break
    sleep 0.01
  done
  sleep "0.0$((RANDOM % 10))"
  if alive "$pid" && kill -KILL "$pid" 2>/dev/null; then
    kills=$((kills + 1))
  fi
  wait_exit 20 "$pid"
  if [[ $STATUS != 137 && $STATUS != 0 ]]; then
    fail "round $round: kstream-deliver exited $STATUS" "$(cat "$WORK/round.err")"
  fi
  # Between crashes: only whole zstd frames under final names.
  if find "$WORK/arch" -name '*.zst' -print0 | xargs -0 -r zstd -qt 2>"$WORK/t.err"; then
    pass
  else
    fail "round $round: a final file is damaged" "$(cat "$WORK/t.err")"
  fi
  if [[ $STATUS == 0 ]]; then
    finished=1
    break
  fi
done
expect_ge 3 "$kills"
echo "cli.deliver_crash: $kills kill -9s during delivery (finished by itself: $finished)" >&2

expect_ok "${DELIVER[@]}" --stats
find "$WORK/arch" -name '*.zst' -print0 | xargs -0 zstd -qdc | sort >"$WORK/out"
seq 1 "$N" | sed 's/^/rec-/' | sort >"$WORK/want"
expect_eq 0 "$(uniq -d "$WORK/out" | wc -l | tr -d ' ')" "records delivered twice"
expect_same_file "$WORK/want" "$WORK/out" "every record exactly once after $kills kills"
expect_eq 0 "$(find "$WORK/arch/.kstream-deliver" -path '*/staging/*.part' | wc -l | tr -d ' ')" \
  "staged files left over"
expect_eq 0 "$(find "$WORK/arch" -path "$WORK/arch/.kstream-deliver" -prune -o -type f ! -name '*.zst' -print | wc -l | tr -d ' ')" \
  "files without a final name outside the state directory"
finish
