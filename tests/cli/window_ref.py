"""Independent reference for tests/cli/window*.sh: generates event data and
recomputes kstream-window's windows (tumbling, sliding, session; event time
with a watermark and allowed lateness) in plain Python, then compares.

  window_ref.py gen N KEYS SEED OUT          events {"ts","k","v","lat","user"} out of order
  window_ref.py check KIND SPEC LATENESS IN OUT [LATE]
      KIND tumbling|sliding|session; SPEC "size" or "size,slide" or "gap" (ms)
      OUT: kstream-window output of --time-field ts --time-format epoch_ms
           --group-by k --count --sum v --avg v --min v --max v
      LATE: the --late file, checked against the reference's late records
"""
import json
import math
import random
import sys
from datetime import datetime, timezone


def iso(ms):
    d = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


def gen(n, keys, seed, out):
    r = random.Random(seed)
    t0 = 1700000000000
    with open(out, "w") as f:
        for i in range(n):
            # 100 events/s of event time; up to 3 s out of order; some far behind
            ts = t0 + i * 10 + r.randrange(-3000, 3000)
            if r.random() < 0.01:
                ts -= r.randrange(5000, 60000)
            # skewed over few keys, uniform over many
            i_key = min(keys - 1, int(r.paretovariate(1.2)) - 1) if keys <= 100 else r.randrange(keys)
            k = "key-%d" % i_key
            v = round(r.uniform(-100, 100), 2)
            f.write(json.dumps({"ts": ts, "k": k, "v": v, "lat": r.expovariate(0.01),
                                "user": "u%d" % r.randrange(3 * n)}, separators=(",", ":")) + "\n")


def windows_of(kind, spec, t):
    size, slide = (spec[0], spec[0]) if kind == "tumbling" else spec
    s = (t // slide) * slide
    out = []
    while s + size > t:
        out.append((s, s + size))
        s -= slide
    return out


def fixed(kind, spec, lateness, events):
    wm = -math.inf
    acc, late = {}, []
    for e in events:
        t = e["ts"]
        open_windows = [w for w in windows_of(kind, spec, t) if w[1] > wm]
        if not open_windows:
            late.append(e)
            continue
        for w in open_windows:
            acc.setdefault((w, e["k"]), []).append(e["v"])
        wm = max(wm, t - lateness)
    return acc, late


def sessions(gap, lateness, events):
    wm = -math.inf
    open_s, acc, late = {}, {}, []  # open_s: key -> [[start, last, values]]
    def close(key, s):
        acc[((s[0], s[1] + gap), key)] = s[2]
    for e in events:
        t, k = e["ts"], e["k"]
        lst = open_s.setdefault(k, [])
        for s in [s for s in lst if s[1] + gap <= wm]:
            close(k, s)
            lst.remove(s)
        hit = [s for s in lst if s[0] < t + gap and t < s[1] + gap]
        if not hit:
            if t + gap <= wm:
                late.append(e)
                continue
            s = [t, t, []]
            lst.append(s)
        else:
            s = hit[0]
            for o in hit[1:]:
                s[0], s[1] = min(s[0], o[0]), max(s[1], o[1])
                s[2].extend(o[2])
                lst.remove(o)
        s[0], s[1] = min(s[0], t), max(s[1], t)
        s[2].append(e["v"])
        wm = max(wm, t - lateness)
    for k, lst in open_s.items():
        for s in lst:
            close(k, s)
    return acc, late


def check(kind, spec, lateness, inp, out, late_file=None):
    events = [json.loads(l) for l in open(inp)]
    spec = [int(x) for x in spec.split(",")]
    if kind == "session":
        acc, late = sessions(spec[0], lateness, events)
    else:
        acc, late = fixed(kind, spec, lateness, events)
    want = {}
    for ((s, e), k), vs in acc.items():
        want[(iso(s), iso(e), k)] = {"count": len(vs), "sum_v": sum(vs), "avg_v": sum(vs) / len(vs),
                                     "min_v": min(vs), "max_v": max(vs)}
    got = {}
    for line in open(out):
        o = json.loads(line)
        key = (o.pop("window_start"), o.pop("window_end"), o.pop("k"))
        if key in got:
            sys.exit("duplicate output line for %s" % (key,))
        got[key] = o
    missing = sorted(set(want) - set(got))[:3]
    extra = sorted(set(got) - set(want))[:3]
    if missing or extra:
        sys.exit("windows differ: %d expected, %d got; missing %s; extra %s"
                 % (len(want), len(got), missing, extra))
    for key, w in want.items():
        g = got[key]
        if set(g) != set(w):
            sys.exit("%s: fields %s, expected %s" % (key, sorted(g), sorted(w)))
        for name, value in w.items():
            if not math.isclose(g[name], value, rel_tol=1e-9, abs_tol=1e-6):
                sys.exit("%s: %s = %r, expected %r" % (key, name, g[name], value))
    if late_file is not None:
        got_late = [json.loads(l) for l in open(late_file)]
        if got_late != late:
            sys.exit("late records differ: %d expected, %d got" % (len(late), len(got_late)))
    print("%d windows, %d late" % (len(want), len(late)))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        check(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6],
              sys.argv[7] if len(sys.argv) > 7 else None)
