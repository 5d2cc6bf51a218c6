"""Reading the -v logs of consumer-group workers in CLI tests."""
import re

_EVENT = re.compile(
    r"\] (checkpoint|took|stole|released) (shardId-\d+)(?: back| \(expired\))?(?: from \S+)? at (\S+)")
_LOST = re.compile(r"\] lost (shardId-\d+)")


def held_checkpoints(path):
    """The shards a worker held when its log ends (it died), each with the
    last checkpoint it logged (-1 when not a sequence number): whoever
    takes them over reads again what comes after."""
    last, held = {}, set()
    for line in open(path):
        m = _EVENT.search(line)
        if m:
            cp = m.group(3)
            last[m.group(2)] = int(cp) if cp.isdigit() else -1
            (held.discard if m.group(1) == "released" else held.add)(m.group(2))
        m = _LOST.search(line)
        if m:
            held.discard(m.group(1))
    return {shard: last[shard] for shard in held}
