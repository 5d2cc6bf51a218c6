#!/usr/bin/env bash
# kstream-deliver under kill -9: a large backlog is delivered by an instance
# killed at random points and restarted each time (same --worker id, so it
# takes its leases back at once); the final files hold every record exactly
# once, no staged file is left over and no partial file carries a final name.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

N=300000
kstream create backlog --shards 4 >/dev/null
seq 1 "$N" | sed 's/^/rec-/' | kstream-put backlog
mkdir "$WORK/arch"
DELIVER=(kstream-deliver backlog --to "$WORK/arch" --compress zstd --level 1 --buffer-size 2KiB
  --worker crashy --until-caught-up)

RANDOM=4242  # the same kill points in every run
kills=0
for round in $(seq 1 15); do
  "${DELIVER[@]}" 2>"$WORK/round.err" &  # not in a function: $! is the tool
  pid=$!
  sleep "0.$((RANDOM % 30 + 2))"
  if [[ $(ps -o stat= -p "$pid") != Z* ]] && kill -KILL "$pid" 2>/dev/null; then
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
done
expect_ge 5 "$kills"
echo "cli.deliver_crash: $kills kill -9s during delivery" >&2

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
