// ShardLineage: which shards a reader of a whole stream may open now, parents
// before children, so each partition key keeps its put order across
// resharding (kstream-get without --group, kstream-window --stream). Not
// thread-safe.
#pragma once

#include <cstdint>
#include <set>
#include <vector>

#include "store/backend.h"

namespace kstream {

class ShardLineage {
 public:
  explicit ShardLineage(const StartPosition& start) : start_(start) {}

  struct Ready {
    uint64_t shard;
    StartPosition start;
  };
  // The shards of meta not started yet whose parents are done (a parent
  // that left meta, expired past retention, counts as done unless it is
  // being read); they count as started from now on. The first call starts them
  // at the reader's position and takes closed shards as done with LATEST
  // (nothing new lands there); shards that appear later start at their
  // beginning (AT_TIMESTAMP keeps its time).
  std::vector<Ready> TakeReady(const StreamMeta& meta);
  // The shard was read to its end: its children may be ready.
  void Done(uint64_t shard) { done_.insert(shard); }

 private:
  StartPosition start_;
  bool initial_ = true;
  std::set<uint64_t> started_, done_;
};

}  // namespace kstream
