// Planning resharding: target shard counts (scale up/down by count or
// percent) and the sequence of splits and merges that reaches N shards of
// equal hash ranges, as UpdateShardCount's UNIFORM_SCALING does, with every
// child having at most a parent and an adjacent parent.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/stream_meta.h"

namespace kstream {

// One step. Shards are named by the start of their hash range, which stays
// meaningful whatever ids earlier steps handed out.
struct ReshardOp {
  enum class Kind { kSplit, kMerge };
  Kind kind = Kind::kSplit;
  uint128 shard_start = 0;  // the shard to split, or the lower of the two to merge
  uint128 key = 0;          // split: the new starting hash key; merge: the upper shard's start
  // As simulated on the plan's copy of the map (for display):
  uint64_t shard = 0, other = 0;  // split: parent; merge: lower and upper shard
  std::vector<uint64_t> children;
};

// The operations taking meta's open shards to `target` uniform shards:
// balanced splits at the target boundaries first, then pairwise merges within
// each target range. Empty when the map is already uniform with that count.
// `after` receives the simulated shard map.
std::vector<ReshardOp> PlanUniformResize(const StreamMeta& meta, int target, StreamMeta* after);

// Applies one operation to a shard map, as the store would (for dry runs).
Status SimulateOp(StreamMeta& meta, ReshardOp& op);

inline constexpr int kMaxShardsPerStream = 10000;

enum class ScaleDirection { kUp, kDown };
// The scaling utility's targets: up by count (open + N) or percent (rounded
// up; 100 doubles); down by count (never below 1) or percent (rounded down,
// never below 1). Up is capped at kMaxShardsPerStream.
Result<int> ScaleTarget(int open, ScaleDirection dir, std::optional<int> count,
                        std::optional<double> pct);

std::string DescribeOp(const ReshardOp& op);

}  // namespace kstream
