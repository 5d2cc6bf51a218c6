#include "scale/plan.h"

#include <algorithm>
#include <cmath>

#include "core/text.h"

namespace kstream {
namespace {

const ShardMeta* OpenShardStartingAt(const StreamMeta& m, uint128 start) {
  for (const auto& s : m.shards)
    if (s.is_open() && s.start_hash == start) return &s;
  return nullptr;
}

// Splits [start, end] at the middle one of `keys` (sorted, all inside), then
// each half recursively: log-depth lineage instead of a chain.
void PlanSplits(StreamMeta& sim, uint128 start, std::vector<uint128> keys,
                std::vector<ReshardOp>& ops) {
  if (keys.empty()) return;
  const size_t mid = keys.size() / 2;
  ReshardOp op;
  op.kind = ReshardOp::Kind::kSplit;
  op.shard_start = start;
  op.key = keys[mid];
  if (!SimulateOp(sim, op).ok()) return;  // keys were filtered to splittable ones
  ops.push_back(op);
  PlanSplits(sim, start, std::vector<uint128>(keys.begin(), keys.begin() + mid), ops);
  PlanSplits(sim, keys[mid], std::vector<uint128>(keys.begin() + mid + 1, keys.end()), ops);
}

}  // namespace

Status SimulateOp(StreamMeta& meta, ReshardOp& op) {
  const ShardMeta* s = OpenShardStartingAt(meta, op.shard_start);
  if (!s) return Status::NotFound("no open shard starts at hash key " + ToDecimal(op.shard_start));
  Result<PendingReshard> step = Status::Ok();
  if (op.kind == ReshardOp::Kind::kSplit) {
    op.shard = s->index;
    step = PlanSplit(meta, s->index, op.key, 0);
  } else {
    const ShardMeta* upper = OpenShardStartingAt(meta, op.key);
    if (!upper) return Status::NotFound("no open shard starts at hash key " + ToDecimal(op.key));
    op.shard = s->index;
    op.other = upper->index;
    step = PlanMerge(meta, s->index, upper->index, 0);
  }
  if (!step.ok()) return step.status();
  op.children.clear();
  for (const auto& c : step->open) op.children.push_back(c.index);
  ApplyReshard(meta, *step, {}, 0);
  return Status::Ok();
}

std::vector<ReshardOp> PlanUniformResize(const StreamMeta& meta, int target, StreamMeta* after) {
  StreamMeta sim = meta;
  std::vector<ReshardOp> ops;
  const auto goal = UniformShards(target, 0, 0);
  std::vector<uint128> bounds;  // starts of target ranges 1..N-1
  for (size_t i = 1; i < goal.size(); ++i) bounds.push_back(goal[i].start_hash);

  // 1. Split every open shard at the target boundaries inside it (a split
  // leaves each child two keys or more: start + 1 < key < end).
  for (const ShardMeta* s : meta.OpenShards()) {
    std::vector<uint128> inside;
    for (uint128 b : bounds)
      if (b > s->start_hash + 1 && b < s->end_hash) inside.push_back(b);
    PlanSplits(sim, s->start_hash, inside, ops);
  }
  // 1b. A boundary one key from a shard's edge cannot be split at: floor()
  // makes N and 2N uniform maps differ by a key. Merge that shard with the
  // neighbour across the edge, then split the pair at the boundary.
  for (uint128 b : bounds) {
    const ShardMeta* s = sim.OpenShardFor(b);
    if (!s || s->start_hash == b) continue;
    const bool at_end = b == s->end_hash;
    const ShardMeta* other = sim.OpenShardFor(at_end ? s->end_hash + 1 : s->start_hash - 1);
    if (!other) continue;
    ReshardOp merge;
    merge.kind = ReshardOp::Kind::kMerge;
    merge.shard_start = at_end ? s->start_hash : other->start_hash;
    merge.key = at_end ? other->start_hash : s->start_hash;
    if (!SimulateOp(sim, merge).ok()) continue;
    ops.push_back(merge);
    ReshardOp split;
    split.kind = ReshardOp::Kind::kSplit;
    split.shard_start = merge.shard_start;
    split.key = b;
    if (SimulateOp(sim, split).ok()) ops.push_back(split);
  }
  // 2. Within each target range, merge neighbours pairwise until one is left.
  for (const auto& range : goal) {
    std::vector<uint128> starts;
    for (const ShardMeta* s : sim.OpenShards())
      if (s->start_hash >= range.start_hash && s->start_hash <= range.end_hash)
        starts.push_back(s->start_hash);
    while (starts.size() > 1) {
      std::vector<uint128> next;
      for (size_t i = 0; i < starts.size(); i += 2) {
        if (i + 1 == starts.size()) {
          next.push_back(starts[i]);
          break;
        }
        ReshardOp op;
        op.kind = ReshardOp::Kind::kMerge;
        op.shard_start = starts[i];
        op.key = starts[i + 1];
        if (SimulateOp(sim, op).ok()) ops.push_back(op);
        next.push_back(starts[i]);  // the child starts where the lower one did
      }
      starts = std::move(next);
    }
  }
  if (after) *after = std::move(sim);
  return ops;
}

Result<int> ScaleTarget(int open, ScaleDirection dir, std::optional<int> count,
                        std::optional<double> pct) {
  if (count.has_value() == pct.has_value())
    return Status::InvalidArgument("give exactly one of --count and --pct");
  if (count && *count < 1) return Status::InvalidArgument("--count must be at least 1");
  if (pct && !(*pct > 0)) return Status::InvalidArgument("--pct must be greater than 0");
  if (dir == ScaleDirection::kUp) {
    const double t =
        count ? double(open) + *count : std::ceil(open * (100.0 + *pct) / 100.0 - 1e-9);
    return int(std::min(t, double(kMaxShardsPerStream)));
  }
  if (pct && *pct > 100) return Status::InvalidArgument("--pct of a scale-down is at most 100");
  const double t = count ? double(open) - *count : std::floor(open * (100.0 - *pct) / 100.0 + 1e-9);
  return std::max(1, int(t));
}

std::string DescribeOp(const ReshardOp& op) {
  std::string s;
  if (op.kind == ReshardOp::Kind::kSplit) {
    s = "split " + ShardIdFor(op.shard) + " at " + ToDecimal(op.key);
  } else {
    s = "merge " + ShardIdFor(op.shard) + " + " + ShardIdFor(op.other);
  }
  s += " ->";
  for (uint64_t c : op.children) s += " " + ShardIdFor(c);
  return s;
}

}  // namespace kstream
