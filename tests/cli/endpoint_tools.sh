#!/usr/bin/env bash
# kstream-agent and kstream-deliver with --endpoint (kstream-serve here): the
# agent tails a file into the endpoint's stream, the deliverer archives that
# stream as a consumer group whose leases stay in the local store; every line
# ends up in exactly one delivered file, and nothing lands in the local
# store's streams.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=serve_lib.bash
source "$(dirname "$0")/serve_lib.bash"

SERVED_HOME="$WORK/served"
mkdir -p "$SERVED_HOME"
KSTREAM_HOME=$SERVED_HOME start_serve
export KSTREAM_ENDPOINT=$SERVE_URL
expect_ok kstream create logs --shards 3

seq -f 'line %g of the application log' 1 3000 >"$WORK/app.log"
expect_ok kstream-agent --file "$WORK/app.log" --stream logs --initial-position START_OF_FILE \
  --once --stats
expect_py "the agent sent 3,000 records" '
import json, sys
stats = json.loads(open(sys.argv[1]).read().splitlines()[-1])
sys.exit(0 if stats["recordsSent"] == 3000 else "stats: %s" % stats)' "$OUT"
expect_ok kstream-get logs
expect_eq 3000 "$(wc -l <"$OUT")" "records in the endpoint's stream"

mkdir "$WORK/archive"
expect_ok kstream-deliver logs --to "$WORK/archive" --compress gzip --until-caught-up
find "$WORK/archive" -name '*.gz' -print0 | xargs -0 gzip -dc | sort >"$WORK/delivered"
sort "$WORK/app.log" >"$WORK/want"
expect_same_file "$WORK/want" "$WORK/delivered"
# Run again: the group's checkpoints (local) say everything is delivered.
expect_ok kstream-deliver logs --to "$WORK/archive" --compress gzip --until-caught-up
expect_eq 0 "$(find "$WORK/archive" -name '*.gz' -print0 | xargs -0 gzip -dc | sort | uniq -d | wc -l)" \
  "records delivered twice"
expect_eq 1 "$(find "$KSTREAM_HOME/endpoints" -name leases.json | wc -l)" "the deliverer's lease table"
unset KSTREAM_ENDPOINT
expect_ok kstream list
expect_empty "$OUT"
stop_serve
finish
