#!/usr/bin/env bash
# Consumer groups on a stream at an endpoint (kstream-serve here): the data
# comes through the Kinesis API, the leases and checkpoints stay in the local
# store under endpoints/<host>_<port>/ (as the KCL keeps its lease table
# beside the stream). Two workers split the shards and together read every
# record once; after SIGTERM a restarted worker resumes from the checkpoints;
# `kstream groups` / `kstream group` show the group through --endpoint.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"

SERVED_HOME="$WORK/served"
mkdir -p "$SERVED_HOME"
KSTREAM_HOME=$SERVED_HOME start_serve
export KSTREAM_ENDPOINT=$SERVE_URL

keyed() { # FIRST COUNT: JSON lines with 20 keys
  python3 -c '
import sys
first, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(first, first + n):
    print("{\"k\": \"key%d\", \"n\": %d}" % (i % 20, i))' "$1" "$2"
}
keyed 0 1000 >"$WORK/first"
keyed 1000 500 >"$WORK/second"

expect_ok kstream create s --shards 4
for w in w1 w2; do
  kstream-get s --group app --worker "$w" -f --lease-timeout 2s --checkpoint-interval 200ms \
    >"$WORK/$w.out" 2>"$WORK/$w.err" &
  eval "pid_$w=\$!"
done
wait_until 30 "2 workers hold 2 leases each" leases_settled s app "w1 2 w2 2 "
expect_ok kstream-put s -K k <"$WORK/first"
both_done() { (($(cat "$WORK/w1.out" "$WORK/w2.out" | wc -l) >= $1)); }
wait_until 60 "the two workers read the 1,000 records" both_done 1000
expect_ok kstream groups s
expect_eq app "$(cat "$OUT")" "kstream groups through --endpoint"
kill -TERM "$pid_w1" "$pid_w2"
wait_exit 10 "$pid_w1"
expect_eq 0 "$STATUS" "worker w1 exit status after SIGTERM"
wait_exit 10 "$pid_w2"
expect_eq 0 "$STATUS" "worker w2 exit status after SIGTERM"
expect_ge 1 "$(wc -l <"$WORK/w1.out")" "records read by w1"
expect_ge 1 "$(wc -l <"$WORK/w2.out")" "records read by w2"
# Every record at least once: a lease that lapsed on a slow machine (the
# sanitizer builds) is taken over from its last checkpoint, so a few records
# may be read twice, as the KCL allows.
cat "$WORK/w1.out" "$WORK/w2.out" | sort -u >"$WORK/read1"
sort "$WORK/first" >"$WORK/want1"
expect_same_file "$WORK/want1" "$WORK/read1"

# The leases live in the local store, not in the served one.
leases=$(find "$KSTREAM_HOME/endpoints" -path '*/s/groups/app/leases.json' | wc -l)
expect_eq 1 "$leases" "lease table under \$KSTREAM_HOME/endpoints"
expect_eq "" "$(find "$SERVED_HOME" -path '*groups*' -name leases.json)" "no leases in the served store"

# A restarted worker resumes where the group's checkpoints are: only the new
# records, each once.
expect_ok kstream-put s -K k <"$WORK/second"
kstream-get s --group app --worker w3 -f --lease-timeout 2s >"$WORK/w3.out" 2>"$WORK/w3.err" &
pid_w3=$!
wait_until 60 "w3 reads the 500 new records" has_lines 500 "$WORK/w3.out"
expect_ok kstream group s app
expect_contains "$OUT" "w3"
kill -TERM "$pid_w3"
wait_exit 10 "$pid_w3"
expect_eq 0 "$STATUS" "worker w3 exit status after SIGTERM"
sort -u "$WORK/w3.out" >"$WORK/read2"
sort "$WORK/second" >"$WORK/want2"
expect_same_file "$WORK/want2" "$WORK/read2"
stop_serve
finish
