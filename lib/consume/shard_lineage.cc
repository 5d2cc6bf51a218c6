#include "consume/shard_lineage.h"

#include <utility>

namespace kstream {

std::vector<ShardLineage::Ready> ShardLineage::TakeReady(const StreamMeta& meta) {
  const bool initial = std::exchange(initial_, false);
  std::vector<Ready> ready;
  for (const ShardMeta& shard : meta.shards) {
    if (started_.count(shard.index)) continue;
    if (initial && start_.type == IteratorType::kLatest && !shard.is_open()) {
      started_.insert(shard.index);  // nothing new will ever land there
      done_.insert(shard.index);
      continue;
    }
    bool parents_done = true;
    // A parent no longer in the map expired (or was never seen): nothing of
    // it is left to wait for, unless this reader is still reading it; its
    // cursor then ends, as for any parent.
    for (auto p : {shard.parent, shard.adjacent_parent})
      if (p && !done_.count(*p) && (meta.FindShard(*p) || started_.count(*p))) parents_done = false;
    if (!parents_done) continue;
    StartPosition start = start_;
    if (!initial && start.type != IteratorType::kAtTimestamp) start = StartPosition{};
    started_.insert(shard.index);
    ready.push_back({shard.index, start});
  }
  return ready;
}

}  // namespace kstream
