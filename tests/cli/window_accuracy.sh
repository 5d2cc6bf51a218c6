#!/usr/bin/env bash
# kstream-window's sketches on 1,000,000 values: --distinct within 2%,
# --percentile within 1% of rank, --top exact on a skewed distribution.
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "$0")/lib.bash"

[[ -x $KSTREAM_BIN/kstream-window ]] || fail "$KSTREAM_BIN/kstream-window is missing"

python3 - "$WORK/m.ndjson" <<'PY'
import random, sys
r = random.Random(11)
players = ["p%03d" % i for i in range(300)]
weights = [1 / (i + 1) ** 1.1 for i in range(300)]
with open(sys.argv[1], "w") as f:
    chunk = []
    for i in range(1000000):
        g = "a" if i % 4 else "b"
        # latency: log-normal with many ties (rounded to 0.1 ms)
        chunk.append('{"g":"%s","user":"u%d","lat":%.1f,"player":"%s"}\n' % (
            g, r.randrange(700000), r.lognormvariate(3, 1), r.choices(players, weights)[0]))
        if len(chunk) == 50000:
            f.write("".join(chunk)); chunk = []
PY
expect_ok kstream-window --tumbling 1d --group-by g --count --distinct user \
  --percentile lat:0,1,25,50,90,99,99.9,100 --top 5:player <"$WORK/m.ndjson"
expect_lines 2 "$OUT"
expect_py "distinct within 2%, percentiles within 1% of rank, top-5 exact" '
import json, sys, bisect
from collections import Counter, defaultdict
users, lats, players = defaultdict(set), defaultdict(list), defaultdict(Counter)
for l in open(sys.argv[1]):
    o = json.loads(l)
    users[o["g"]].add(o["user"]); lats[o["g"]].append(o["lat"]); players[o["g"]][o["player"]] += 1
for l in open(sys.argv[2]):
    o = json.loads(l)
    g = o["g"]
    exact = len(users[g])
    err = abs(o["distinct_user"] - exact) / exact
    assert err <= 0.02, ("distinct", g, o["distinct_user"], exact)
    v = sorted(lats[g]); n = len(v)
    assert o["count"] == n
    for p in [0, 1, 25, 50, 90, 99, 99.9, 100]:
        got = o["p%s_lat" % ("%g" % p)]
        lo, hi = bisect.bisect_left(v, got), bisect.bisect_right(v, got)  # ranks lo+1..hi hold got
        rank = max(1, -(-p * n // 100))
        off = 0 if lo + 1 <= rank <= hi else min(abs(rank - lo - 1), abs(rank - hi))
        assert off <= 0.01 * n, ("percentile", g, p, got, off / n)
    want = players[g].most_common(5)
    assert [(t["value"], t["count"]) for t in o["top_player"]] == want, (o["top_player"], want)
    print(g, "distinct error %.3f%%" % (100 * err), file=sys.stderr)
' "$WORK/m.ndjson" "$OUT"

finish
