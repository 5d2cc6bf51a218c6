#!/usr/bin/env bash
# kstream-deliver and a target that cannot take the files: a full disk (a
# small tmpfs) stops it with a clear message and exit 1, leaves only whole
# files and checkpoints only what they hold; once space returns a new run
# delivers the rest, every record exactly once. A read-only or unwritable
# target is refused at start. Mounting needs root: without it the tmpfs part
# is skipped with a notice (the same faults are injected through the Env
# seam in unit.deliver, AFullDiskStopsWithAClearErrorAndLosesNothingOnceSpaceReturns).
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

kstream create big --shards 2 >/dev/null
# Incompressible records (base64 of random bytes), about 700 KB in all.
python3 -c '
import base64, os
for i in range(2500):
    print("%05d-%s" % (i, base64.b64encode(os.urandom(200)).decode()))
' >"$WORK/input"
sort "$WORK/input" >"$WORK/want"
kstream-put big <"$WORK/input"

if mount_tmpfs 256k; then
  mkdir "$MNT/arch"
  expect_exit 1 kstream-deliver big --to "$MNT/arch" --buffer-size 16KiB --until-caught-up
  expect_contains "$ERR" "kstream-deliver: error: cannot deliver to '$MNT/arch'"
  expect_contains "$ERR" "No space left on device"
  group=$(ls "$MNT/arch/.kstream-deliver")
  # Only whole files under final names, and the checkpoints cover no more
  # than they hold.
  find "$MNT/arch" -path "$MNT/arch/.kstream-deliver" -prune -o -type f -print0 |
    xargs -0 -r cat | sort >"$WORK/part"
  expect_ge 1 "$(wc -l <"$WORK/part")"
  expect_eq 0 "$(comm -13 "$WORK/want" "$WORK/part" | wc -l | tr -d ' ')" "lines that are not whole records"
  expect_eq 0 "$(uniq -d "$WORK/part" | wc -l | tr -d ' ')" "records twice"
  lag=$(kstream group big "$group" --json | python3 -c '
import json, sys
print(sum(int(s.get("LagRecords", 0)) for s in json.load(sys.stdin)["Shards"]))')
  expect_eq "$((2500 - $(wc -l <"$WORK/part")))" "$lag" "records not checkpointed = records not in files"

  # Space comes back: the next run delivers the rest, exactly once.
  mount -o remount,size=8m "$MNT"
  expect_ok kstream-deliver big --to "$MNT/arch" --buffer-size 16KiB --until-caught-up
  find "$MNT/arch" -path "$MNT/arch/.kstream-deliver" -prune -o -type f -print0 |
    xargs -0 cat | sort >"$WORK/all"
  expect_same_file "$WORK/want" "$WORK/all" "every record exactly once after the disk filled up"

  # A read-only target is refused before anything is read.
  mount -o remount,ro "$MNT"
  expect_exit 1 kstream-deliver big --to "$MNT/arch" --until-caught-up
  expect_contains "$ERR" "cannot write to target directory '$MNT/arch'"
  expect_contains "$ERR" "Read-only file system"
else
  echo "cli.deliver_full: SKIP: the full-disk and read-only parts need root to mount a tmpfs" \
    "(the Env-injected full disk runs in unit.deliver)" >&2
fi

# An unwritable directory (permissions do not stop root).
mkdir "$WORK/locked"
chmod 555 "$WORK/locked"
if [[ $(id -u) != 0 ]]; then
  expect_exit 1 kstream-deliver big --to "$WORK/locked" --until-caught-up
  expect_contains "$ERR" "cannot write to target directory"
  expect_contains "$ERR" "Permission denied"
else
  echo "cli.deliver_full: SKIP: the permission check (root writes anyway; the read-only mount covers it)" >&2
fi
# A target that disappears: the next run says so and moves no checkpoint.
expect_exit 1 kstream-deliver big --to "$WORK/gone" --until-caught-up
expect_contains "$ERR" "does not exist (create it with: mkdir -p $WORK/gone)"
finish
