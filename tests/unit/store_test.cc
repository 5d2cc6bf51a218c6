// lib/store: stream metadata, the stream lifecycle, routing and sequence
// numbers, on a real LocalStore in a temporary directory.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/text.h"
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

constexpr uint128 kHalf = uint128(1) << 127;     // 2^127
constexpr uint128 kQuarter = uint128(1) << 126;  // 2^126

uint128 Dec(std::string_view s) {
  return Value(ParseDecimal128(s, "test value"));
}

void CheckTiles(const std::vector<ShardMeta>& shards) {
  REQUIRE(!shards.empty());
  CHECK(shards.front().start_hash == 0);
  CHECK(shards.back().end_hash == kMaxHashKey);
  for (size_t i = 0; i + 1 < shards.size(); ++i) {
    CHECK(shards[i].end_hash + 1 == shards[i + 1].start_hash);
    CHECK(shards[i].start_hash < shards[i].end_hash);
  }
  StreamMeta meta;
  meta.shards = shards;
  CHECK(CheckOpenShardsTile(meta).ok());
}

}  // namespace

TEST_SUITE("store") {
  TEST_CASE("UniformShardsTileTheWholeHashSpace") {
    for (int n : {1, 2, 3, 4, 7, 10, 10000}) {
      CAPTURE(n);
      auto shards = UniformShards(n, 5, 123);
      REQUIRE(shards.size() == size_t(n));
      CheckTiles(shards);
      for (int i = 0; i < n; ++i) {
        CHECK(shards[size_t(i)].index == uint64_t(5 + i));
        CHECK(shards[size_t(i)].created_ms == 123);
        CHECK(shards[size_t(i)].is_open());
      }
    }
    auto two = UniformShards(2, 0, 0);
    CHECK(two[0].end_hash == Dec("170141183460469231731687303715884105727"));
    CHECK(two[1].start_hash == Dec("170141183460469231731687303715884105728"));
    auto four = UniformShards(4, 0, 0);
    const uint128 q = Dec("85070591730234615865843651857942052864");
    CHECK(q == kQuarter);
    for (int i = 1; i < 4; ++i) CHECK(four[size_t(i)].start_hash == q * unsigned(i));
    // floor(2^128 / N) steps for N that do not divide 2^128 (values from Python).
    auto three = UniformShards(3, 0, 0);
    CHECK(three[1].start_hash == Dec("113427455640312821154458202477256070485"));
    CHECK(three[2].start_hash == Dec("226854911280625642308916404954512140970"));
    auto seven = UniformShards(7, 0, 0);
    CHECK(seven[6].start_hash == Dec("291670600217947254397178234941515609816"));
  }

  TEST_CASE("CheckOpenShardsTileRejectsGapsOverlapsAndShortEnds") {
    StreamMeta meta;
    meta.name = "s";
    meta.shards = UniformShards(3, 0, 0);
    CHECK(CheckOpenShardsTile(meta).ok());
    SUBCASE("gap") {
      meta.shards[1].start_hash += 1;
    }
    SUBCASE("overlap") {
      meta.shards[1].start_hash -= 1;
    }
    SUBCASE("short end") {
      meta.shards[2].end_hash -= 1;
    }
    SUBCASE("missing start") {
      meta.shards[0].start_hash = 1;
    }
    SUBCASE("no open shard") {
      for (auto& s : meta.shards) s.closed_ms = 1;
    }
    SUBCASE("closed shard leaves a hole") {
      meta.shards[1].closed_ms = 1;
    }
    CHECK(CheckOpenShardsTile(meta).code() == StatusCode::kCorruption);
  }

  TEST_CASE("StreamMetaRoundTripsThroughJson") {
    StreamMeta m;
    m.name = "orders";
    m.created_ms = 1700000000000;
    m.retention_hours = 168;
    m.shards = UniformShards(2, 0, 5);
    m.shards[0].closed_ms = 9;
    m.shards[0].ending_counter = 77;
    ShardMeta child;
    child.index = 2;
    child.start_hash = 0;
    child.end_hash = kHalf - 1;
    child.parent = 0;
    child.adjacent_parent = 1;
    m.shards.push_back(child);
    m.next_shard_index = 3;
    StreamMeta d = Value(DecodeStreamMeta(EncodeStreamMeta(m), "stream.json"));
    CHECK(d.name == "orders");
    CHECK(d.created_ms == m.created_ms);
    CHECK(d.retention_hours == 168);
    CHECK(d.next_shard_index == 3);
    REQUIRE(d.shards.size() == 3);
    CHECK(d.shards[0].ending_counter == std::optional<uint64_t>(77));
    CHECK(d.shards[0].closed_ms == std::optional<int64_t>(9));
    CHECK(d.shards[1].end_hash == kMaxHashKey);
    CHECK(!d.shards[1].parent.has_value());
    CHECK(d.shards[2].parent == std::optional<uint64_t>(0));
    CHECK(d.shards[2].adjacent_parent == std::optional<uint64_t>(1));
    CHECK(d.shards[2].end_hash == kHalf - 1);
    CHECK(DecodeStreamMeta("{not json", "x.json").status().code() == StatusCode::kCorruption);
  }

  TEST_CASE("ParsersForSyncModeAndIteratorType") {
    CHECK(Value(ParseSyncMode("always")) == SyncMode::kAlways);
    CHECK(Value(ParseSyncMode("batch")) == SyncMode::kBatch);
    CHECK(Value(ParseSyncMode("never")) == SyncMode::kNever);
    CHECK(!ParseSyncMode("sometimes").ok());
    for (auto t :
         {IteratorType::kTrimHorizon, IteratorType::kLatest, IteratorType::kAtSequenceNumber,
          IteratorType::kAfterSequenceNumber, IteratorType::kAtTimestamp}) {
      CHECK(Value(ParseIteratorType(IteratorTypeName(t))) == t);
    }
    CHECK(!ParseIteratorType("trim_horizon").ok());
  }

  TEST_CASE("CreateListDescribeDeleteLifecycle") {
    TestStore f;
    CHECK(Value(f.store.ListStreams()).empty());
    REQUIRE(f.store.CreateStream("orders", 3, 48).ok());
    REQUIRE(f.store.CreateStream("audit", 1, 24).ok());
    CHECK(Value(f.store.ListStreams()) == std::vector<std::string>{"audit", "orders"});
    StreamDescription d = Value(f.store.DescribeStream("orders"));
    CHECK(d.meta.name == "orders");
    CHECK(d.meta.retention_hours == 48);
    CHECK(d.meta.created_ms == f.env.NowMillis());
    CHECK(d.meta.next_shard_index == 3);
    REQUIRE(d.meta.shards.size() == 3);
    CheckTiles(d.meta.shards);
    REQUIRE(d.stats.size() == 3);
    for (const auto& st : d.stats) {
      CHECK(st.records == 0);
      CHECK(!st.last_sequence.has_value());
    }
    CHECK(f.store.CreateStream("orders", 1, 24).code() == StatusCode::kAlreadyExists);
    REQUIRE(f.store.DeleteStream("orders").ok());
    CHECK(Value(f.store.ListStreams()) == std::vector<std::string>{"audit"});
    Status gone = f.store.DescribeStream("orders").status();
    CHECK(gone.code() == StatusCode::kNotFound);
    // The name is free again.
    CHECK(f.store.CreateStream("orders", 2, 24).ok());
    CHECK(Value(f.store.DescribeStream("orders")).meta.shards.size() == 2);
  }

  TEST_CASE("CreateRejectsBadNamesShardCountsAndRetention") {
    TestStore f;
    for (const char* name : {"../x", "", "a/b", "..", "."}) {
      CHECK(f.store.CreateStream(name, 1, 24).code() == StatusCode::kInvalidArgument);
    }
    CHECK(f.store.CreateStream(std::string(129, 'x'), 1, 24).code() ==
          StatusCode::kInvalidArgument);
    CHECK(f.store.CreateStream("s", 0, 24).code() == StatusCode::kInvalidArgument);
    CHECK(f.store.CreateStream("s", 1, 23).code() == StatusCode::kInvalidArgument);
    CHECK(f.store.CreateStream("s", 1, 8761).code() == StatusCode::kInvalidArgument);
    CHECK(Value(f.store.ListStreams()).empty());
    CHECK(f.store.CreateStream("lo", 1, 24).ok());
    CHECK(f.store.CreateStream("hi", 1, 8760).ok());
  }

  TEST_CASE("SetRetentionEnforcesTheLimits") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 1, 24).ok());
    CHECK(f.store.SetRetention("s", 23).code() == StatusCode::kInvalidArgument);
    CHECK(f.store.SetRetention("s", 8761).code() == StatusCode::kInvalidArgument);
    CHECK(Value(f.store.DescribeStream("s")).meta.retention_hours == 24);
    CHECK(f.store.SetRetention("s", 8760).ok());
    CHECK(Value(f.store.DescribeStream("s")).meta.retention_hours == 8760);
    CHECK(f.store.SetRetention("s", 24).ok());
    CHECK(Value(f.store.DescribeStream("s")).meta.retention_hours == 24);
  }

  TEST_CASE("MissingStreamIsNotFoundWithACreateHint") {
    TestStore f;
    REQUIRE(f.store.CreateStream("other", 1, 24).ok());
    auto check = [](const Status& s) {
      CHECK(s.code() == StatusCode::kNotFound);
      CHECK_MESSAGE(s.message().find("kstream create") != std::string::npos, s.message());
    };
    check(f.store.DescribeStream("nope").status());
    check(f.store.OpenWriter("nope", SyncMode::kNever).status());
    check(f.store.OpenCursor("nope", 0, {}).status());
    check(f.store.DeleteStream("nope"));
    check(f.store.SetRetention("nope", 48));
    check(f.store.TrimStream("nope"));
    check(f.store.Watch("nope").status());
    check(f.store.SplitShard("nope", 0, kHalf));
    check(f.store.MergeShards("nope", 0, 1));
    // A shard that does not exist in an existing stream.
    CHECK(f.store.OpenCursor("other", 7, {}).status().code() == StatusCode::kNotFound);
  }

  TEST_CASE("SamePartitionKeyLandsInTheShardHoldingItsMd5") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 4, 24).ok());
    const StreamMeta meta = Value(f.store.ReadMeta("s"));
    auto w = Value(f.store.OpenWriter("s", SyncMode::kNever));
    std::map<std::string, std::vector<SequenceNumber>> by_key;
    std::set<uint64_t> used;
    for (int round = 0; round < 3; ++round) {
      std::vector<std::string> keys, datas;
      for (int k = 0; k < 100; ++k) {
        keys.push_back("key-" + std::to_string(k));
        datas.push_back("r" + std::to_string(round));
      }
      std::vector<PutRecord> recs;
      for (size_t i = 0; i < keys.size(); ++i) recs.push_back({keys[i], datas[i], std::nullopt});
      std::vector<PutResult> results;
      REQUIRE(w->Put(recs, results).ok());
      REQUIRE(results.size() == recs.size());
      for (size_t i = 0; i < keys.size(); ++i) {
        CHECK(results[i].shard_index == OpenShardFor(meta, HashPartitionKey(keys[i])));
        CHECK(SequenceShardIndex(results[i].sequence) == results[i].shard_index);
        by_key[keys[i]].push_back(results[i].sequence);
        used.insert(results[i].shard_index);
      }
    }
    CHECK(used.size() == 4);  // 100 keys spread over all shards
    for (auto& [key, seqs] : by_key) {
      CHECK(seqs[0] < seqs[1]);
      CHECK(seqs[1] < seqs[2]);
      CHECK(SequenceShardIndex(seqs[0]) == SequenceShardIndex(seqs[2]));
    }
    // Reading back: each shard holds exactly the keys that hash into it, in order.
    size_t total = 0;
    for (uint64_t shard = 0; shard < 4; ++shard) {
      auto recs = ReadShard(f.store, "s", shard);
      total += recs.size();
      std::map<std::string, int> seen;
      for (const auto& r : recs) {
        CHECK(OpenShardFor(meta, HashPartitionKey(r.key)) == shard);
        CHECK(r.data == "r" + std::to_string(seen[r.key]++));
        CHECK(!r.explicit_hash_key.has_value());
      }
    }
    CHECK(total == 300);
  }

  TEST_CASE("ExplicitHashKeyOverridesThePartitionKey") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 4, 24).ok());
    auto w = Value(f.store.OpenWriter("s", SyncMode::kAlways));
    // "a" hashes into shard 0 (its MD5 is below 2^126); the explicit key wins.
    CHECK(HashPartitionKey("a") < kQuarter);
    CHECK(PutOne(*w, "a", "x", uint128(0)).shard_index == 0);
    CHECK(PutOne(*w, "a", "x", kQuarter - 1).shard_index == 0);
    CHECK(PutOne(*w, "a", "x", kQuarter).shard_index == 1);
    CHECK(PutOne(*w, "a", "x", kHalf).shard_index == 2);
    CHECK(PutOne(*w, "a", "x", kMaxHashKey).shard_index == 3);
    auto recs = ReadShard(f.store, "s", 3);
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].key == "a");
    CHECK(recs[0].explicit_hash_key == std::optional<uint128>(kMaxHashKey));
  }

  TEST_CASE("SequenceNumbersIncreaseInAShardAndAreUniqueInTheStream") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 3, 24).ok());
    auto w1 = Value(f.store.OpenWriter("s", SyncMode::kNever));
    auto w2 = Value(f.store.OpenWriter("s", SyncMode::kNever));  // interleaved writers
    std::set<SequenceNumber> all;
    std::map<uint64_t, SequenceNumber> last;
    for (int i = 0; i < 600; ++i) {
      auto& w = i % 2 ? w1 : w2;
      auto r = PutOne(*w, "k" + std::to_string(i % 37), std::string(size_t(i % 50), 'd'));
      CHECK(all.insert(r.sequence).second);
      if (last.count(r.shard_index)) CHECK(r.sequence > last[r.shard_index]);
      CHECK(SequenceCounter(r.sequence) >= 1);
      last[r.shard_index] = r.sequence;
    }
    // Counters are contiguous from 1, and the stats agree with what was put.
    auto d = Value(f.store.DescribeStream("s"));
    uint64_t records = 0;
    for (uint64_t shard = 0; shard < 3; ++shard) {
      const auto& st = d.stats[shard];
      records += st.records;
      if (!last.count(shard)) continue;
      CHECK(st.first_sequence == std::optional<SequenceNumber>(MakeSequenceNumber(shard, 1)));
      CHECK(st.last_sequence == std::optional<SequenceNumber>(last[shard]));
      CHECK(st.records == SequenceCounter(last[shard]));
    }
    CHECK(records == 600);
  }
}
