// ShardLineage: parents before children, merges wait for both parents,
// LATEST skips closed shards, later shards start at their beginning.
#include <doctest/doctest.h>

#include <vector>

#include "consume/shard_lineage.h"

using namespace kstream;

namespace {

ShardMeta Shard(uint64_t index, bool open, std::optional<uint64_t> parent = std::nullopt,
                std::optional<uint64_t> adjacent = std::nullopt) {
  ShardMeta s;
  s.index = index;
  s.parent = parent;
  s.adjacent_parent = adjacent;
  if (!open) s.closed_ms = 1;
  return s;
}

std::vector<uint64_t> Indexes(const std::vector<ShardLineage::Ready>& ready) {
  std::vector<uint64_t> out;
  for (const auto& r : ready) out.push_back(r.shard);
  return out;
}

}  // namespace

TEST_SUITE("shard_lineage") {
  TEST_CASE("ChildrenWaitForEveryParentAndStartAtTheirBeginning") {
    StreamMeta meta;
    // 0 and 1 merged into 2; 2 split into 3 and 4.
    meta.shards = {Shard(0, false), Shard(1, false), Shard(2, false, 0, 1), Shard(3, true, 2),
                   Shard(4, true, 2)};
    StartPosition at;
    at.type = IteratorType::kAtTimestamp;
    at.timestamp_ms = 42;
    ShardLineage lineage(at);
    auto first = lineage.TakeReady(meta);
    CHECK(Indexes(first) == std::vector<uint64_t>{0, 1});
    CHECK(first[0].start.type == IteratorType::kAtTimestamp);
    CHECK(lineage.TakeReady(meta).empty());  // each shard once
    lineage.Done(0);
    CHECK(lineage.TakeReady(meta).empty());  // 2 waits for 1 too
    lineage.Done(1);
    auto merged = lineage.TakeReady(meta);
    CHECK(Indexes(merged) == std::vector<uint64_t>{2});
    CHECK(merged[0].start.timestamp_ms == 42);  // AT_TIMESTAMP keeps its time
    lineage.Done(2);
    CHECK(Indexes(lineage.TakeReady(meta)) == std::vector<uint64_t>{3, 4});
  }

  TEST_CASE("LatestSkipsClosedShardsAndLaterShardsStartAtTrimHorizon") {
    StreamMeta meta;
    meta.shards = {Shard(0, false), Shard(1, true, 0), Shard(2, true, 0)};
    StartPosition latest;
    latest.type = IteratorType::kLatest;
    ShardLineage lineage(latest);
    auto first = lineage.TakeReady(meta);
    CHECK(Indexes(first) == std::vector<uint64_t>{1, 2});
    CHECK(first[0].start.type == IteratorType::kLatest);
    meta.shards.push_back(Shard(3, true, 1));
    lineage.Done(1);
    auto later = lineage.TakeReady(meta);
    CHECK(Indexes(later) == std::vector<uint64_t>{3});
    CHECK(later[0].start.type == IteratorType::kTrimHorizon);
  }

  TEST_CASE("AParentNoLongerInTheMapCountsAsDone") {
    StreamMeta meta;
    meta.shards = {Shard(5, true, 4)};  // 4 was removed by retention
    ShardLineage lineage{StartPosition{}};
    CHECK(Indexes(lineage.TakeReady(meta)) == std::vector<uint64_t>{5});
  }
}  // TEST_SUITE
