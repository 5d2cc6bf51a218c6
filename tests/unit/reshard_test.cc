// lib/store resharding: SplitShard and MergeShards on a real LocalStore, with
// writers and cursors that were opened before the shard map changed.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "store/local_store.h"
#include "store/stream_meta.h"
#include "test_util.h"

using namespace kstream;
using kstest::OpenShardFor;
using kstest::PutOne;
using kstest::ReadShard;
using kstest::TestStore;
using kstest::Value;

namespace {

constexpr uint128 kHalf = uint128(1) << 127;  // 2^127

}  // namespace

TEST_SUITE("store") {
  TEST_CASE("SplitKeyMustLieStrictlyInsideTheShard") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 2, 24).ok());
    // Shard 1 covers [2^127, 2^128-1]; the rule is start + 1 < key < end.
    for (uint128 bad : {kHalf - 1, kHalf, kHalf + 1, kMaxHashKey, uint128(5)}) {
      CHECK(f.store.SplitShard("s", 1, bad).code() == StatusCode::kInvalidArgument);
    }
    CHECK(Value(f.store.ReadMeta("s")).shards.size() == 2);
    CHECK(f.store.SplitShard("s", 1, kHalf + 2).ok());
    CHECK(f.store.SplitShard("s", 0, kHalf - 2).ok());  // largest key below shard 0's end
    auto meta = Value(f.store.ReadMeta("s"));
    CHECK(CheckOpenShardsTile(meta).ok());
    CHECK(meta.FindShard(2)->end_hash == kHalf + 1);  // children of shard 1
    CHECK(meta.FindShard(3)->start_hash == kHalf + 2);
    CHECK(meta.FindShard(5)->start_hash == kHalf - 2);
    CHECK(meta.FindShard(5)->end_hash == kHalf - 1);
    CHECK(f.store.SplitShard("s", 9, kHalf).code() == StatusCode::kNotFound);
  }

  TEST_CASE("SplitClosesTheParentAndOpensTwoNewChildren") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 1, 24).ok());
    {
      auto w = Value(f.store.OpenWriter("s", SyncMode::kNever));
      for (int i = 0; i < 10; ++i) PutOne(*w, "k" + std::to_string(i), "before");
    }
    f.env.Advance(1000);
    REQUIRE(f.store.SplitShard("s", 0, kHalf).ok());
    auto meta = Value(f.store.ReadMeta("s"));
    REQUIRE(meta.shards.size() == 3);
    CHECK(meta.next_shard_index == 3);
    const ShardMeta& parent = *meta.FindShard(0);
    CHECK(!parent.is_open());
    CHECK(parent.closed_ms == std::optional<int64_t>(f.env.NowMillis()));
    CHECK(parent.ending_counter == std::optional<uint64_t>(10));
    const ShardMeta& low = *meta.FindShard(1);
    const ShardMeta& high = *meta.FindShard(2);
    CHECK(low.start_hash == 0);
    CHECK(low.end_hash == kHalf - 1);
    CHECK(high.start_hash == kHalf);
    CHECK(high.end_hash == kMaxHashKey);
    CHECK(low.parent == std::optional<uint64_t>(0));
    CHECK(high.parent == std::optional<uint64_t>(0));
    CHECK(low.is_open());
    CHECK(CheckOpenShardsTile(meta).ok());
    // A closed shard cannot be split (or merged) again.
    CHECK(f.store.SplitShard("s", 0, kHalf).code() == StatusCode::kInvalidArgument);
    CHECK(!f.store.MergeShards("s", 0, 1).ok());
    // New writes go to the children and number above every parent record.
    auto w = Value(f.store.OpenWriter("s", SyncMode::kNever));
    const uint128 parent_last = MakeSequenceNumber(0, 10);
    for (int i = 0; i < 20; ++i) {
      auto r = PutOne(*w, "k" + std::to_string(i), "after");
      CHECK(r.shard_index == OpenShardFor(meta, HashPartitionKey("k" + std::to_string(i))));
      CHECK(r.sequence > parent_last);
    }
    CHECK(meta.FindShard(1)->starting_sequence() > parent_last);
  }

  TEST_CASE("WriterOpenedBeforeASplitNeverAppendsToTheClosedParent") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 1, 24).ok());
    auto w = Value(f.store.OpenWriter("s", SyncMode::kBatch));
    for (int i = 0; i < 5; ++i) CHECK(PutOne(*w, "k" + std::to_string(i), "old").shard_index == 0);
    REQUIRE(f.store.SplitShard("s", 0, kHalf).ok());
    const auto meta = Value(f.store.ReadMeta("s"));
    // The stale writer finds the seal, reloads the map and routes to the children.
    std::vector<std::string> keys;
    for (int i = 0; i < 40; ++i) keys.push_back("k" + std::to_string(i));
    std::vector<PutRecord> recs;
    for (const auto& k : keys) recs.push_back({k, "new", std::nullopt});
    std::vector<PutResult> results;
    REQUIRE(w->Put(recs, results).ok());
    REQUIRE(w->Sync().ok());
    for (size_t i = 0; i < keys.size(); ++i) {
      CHECK(results[i].shard_index != 0);
      CHECK(results[i].shard_index == OpenShardFor(meta, HashPartitionKey(keys[i])));
    }
    CHECK(PutOne(*w, "z", "later").shard_index != 0);
    // The parent holds exactly the five old records, then ends.
    ShardCursor::State state;
    auto parent = ReadShard(f.store, "s", 0, {}, &state);
    CHECK(state == ShardCursor::State::kShardEnd);
    REQUIRE(parent.size() == 5);
    for (const auto& r : parent) CHECK(r.data == "old");
    CHECK(meta.FindShard(0)->ending_counter == std::optional<uint64_t>(5));
    auto low = ReadShard(f.store, "s", 1, {}, &state);
    CHECK(state == ShardCursor::State::kCaughtUp);
    auto high = ReadShard(f.store, "s", 2);
    CHECK(low.size() + high.size() == 41);
  }

  TEST_CASE("MergeJoinsTwoAdjacentShards") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 2, 24).ok());
    auto w = Value(f.store.OpenWriter("s", SyncMode::kNever));  // opened before the merge
    PutOne(*w, "a", "1", uint128(0));
    PutOne(*w, "a", "2", kMaxHashKey);
    PutOne(*w, "a", "3", kMaxHashKey);
    REQUIRE(f.store.MergeShards("s", 1, 0).ok());
    auto meta = Value(f.store.ReadMeta("s"));
    REQUIRE(meta.shards.size() == 3);
    const ShardMeta& child = *meta.FindShard(2);
    CHECK(child.start_hash == 0);
    CHECK(child.end_hash == kMaxHashKey);
    CHECK(child.parent == std::optional<uint64_t>(1));
    CHECK(child.adjacent_parent == std::optional<uint64_t>(0));
    CHECK(meta.FindShard(0)->ending_counter == std::optional<uint64_t>(1));
    CHECK(meta.FindShard(1)->ending_counter == std::optional<uint64_t>(2));
    CHECK(!meta.FindShard(0)->is_open());
    CHECK(!meta.FindShard(1)->is_open());
    CHECK(meta.OpenShards().size() == 1);
    auto r = PutOne(*w, "a", "4", uint128(0));
    CHECK(r.shard_index == 2);
    CHECK(r.sequence > MakeSequenceNumber(1, 2));
    ShardCursor::State state;
    CHECK(ReadShard(f.store, "s", 1, {}, &state).size() == 2);
    CHECK(state == ShardCursor::State::kShardEnd);
  }

  TEST_CASE("MergeOfNonAdjacentShardsIsRefused") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 3, 24).ok());
    // Regression: the last shard's end + 1 wraps to 0, which once made the
    // first and last shards look adjacent (and sealed both before failing).
    CHECK(f.store.MergeShards("s", 0, 2).code() == StatusCode::kInvalidArgument);
    CHECK(f.store.MergeShards("s", 2, 0).code() == StatusCode::kInvalidArgument);
    CHECK(f.store.MergeShards("s", 1, 1).code() == StatusCode::kInvalidArgument);
    CHECK(f.store.MergeShards("s", 1, 8).code() == StatusCode::kNotFound);
    // Nothing changed, and the refused shards were not sealed.
    auto meta = Value(f.store.ReadMeta("s"));
    CHECK(meta.shards.size() == 3);
    CHECK(meta.OpenShards().size() == 3);
    for (uint64_t shard : {0, 1, 2}) {
      ShardCursor::State state;
      ReadShard(f.store, "s", shard, {}, &state);
      CHECK(state == ShardCursor::State::kCaughtUp);
    }
    auto w = Value(f.store.OpenWriter("s", SyncMode::kNever));
    CHECK(PutOne(*w, "a", "x", uint128(0)).shard_index == 0);
    CHECK(PutOne(*w, "a", "x", kMaxHashKey).shard_index == 2);
    // Merging the middle one with a neighbour works; the result cannot be merged
    // with a closed shard.
    CHECK(f.store.MergeShards("s", 1, 2).ok());
    CHECK(f.store.MergeShards("s", 0, 1).code() == StatusCode::kInvalidArgument);
    CHECK(f.store.MergeShards("s", 0, 3).ok());
    CHECK(Value(f.store.ReadMeta("s")).OpenShards().size() == 1);
  }
}
