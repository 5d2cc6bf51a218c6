// lib/store cursors over data that goes away or ends: retention trimming with
// a fake clock, and shards sealed by resharding.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cursor_fixture.h"
#include "store/shard_files.h"

using namespace kstream;
using namespace kstest;

namespace {

constexpr int64_t kHour = 3600 * 1000;

}  // namespace

TEST_SUITE("cursor") {
  TEST_CASE("RetentionRemovesWholeSegmentsAndReadersContinueFromTheOldest") {
    CursorFixture f(4096);
    auto early = f.Open(IteratorType::kTrimHorizon);  // positioned before any segment
    auto old_log = f.Fill(150, 100, 3, 0);            // all at one time, many segments
    const std::string dir = f.store.ShardDir("s", 0);
    const auto before = Value(ListSegments(&f.env, dir));
    REQUIRE(before.size() >= 4);
    auto reading = f.Open(IteratorType::kTrimHorizon);
    RecordBatch batch;
    Value(reading->Read(batch, 5, 1 << 20));
    REQUIRE(batch.size() == 5);

    // A writer opened now (opening one also trims) appends after the clock moved:
    // its append rolls the old segment by age, and the roll trims.
    auto writer = Value(f.store.OpenWriter("s", SyncMode::kNever));
    f.env.Advance(25 * kHour);
    PutOne(*writer, "pk", "fresh", uint128(0));
    const auto after = Value(ListSegments(&f.env, dir));
    // Only the newest old segment (its successor is recent) and the new one stay.
    REQUIRE(after.size() == 2);
    CHECK(after[0] == before.back());
    const uint64_t oldest = after[0];

    auto recs = ReadAll(*early);
    REQUIRE(!recs.empty());
    CHECK(recs.front().sequence == Seq(oldest));
    CHECK(recs.back().data == "fresh");
    CHECK(recs.size() == old_log.size() + 1 - (oldest - 1));

    auto rest = Counters(ReadAll(*reading));
    REQUIRE(!rest.empty());
    CHECK(std::is_sorted(rest.begin(), rest.end()));
    CHECK(std::adjacent_find(rest.begin(), rest.end()) == rest.end());
    CHECK(rest.front() == 6);
    CHECK(rest.back() == old_log.size() + 1);
    CHECK(std::find(rest.begin(), rest.end(), oldest) != rest.end());

    CHECK(f.First(IteratorType::kTrimHorizon)->sequence == Seq(oldest));
    CHECK(f.First(IteratorType::kAtSequenceNumber, Seq(3))->sequence == Seq(oldest));
    CHECK(f.First(IteratorType::kAtTimestamp, 0, 0)->sequence == Seq(oldest));
    auto stats = Value(f.store.DescribeStream("s")).stats[0];
    CHECK(stats.first_sequence == std::optional<uint128>(Seq(oldest)));
    CHECK(stats.records == old_log.size() + 2 - oldest);
  }

  TEST_CASE("TrimStreamRemovesOnlySegmentsWhoseSuccessorIsPastRetention") {
    CursorFixture f(4096);
    const int64_t t0 = f.env.NowMillis();
    f.Fill(100, 100, 2, 0);
    const std::string dir = f.store.ShardDir("s", 0);
    const auto first_wave = Value(ListSegments(&f.env, dir));
    f.env.Set(t0 + 2 * kHour);
    f.Fill(100, 100, 2, 0);
    const auto both = Value(ListSegments(&f.env, dir));
    REQUIRE(both.size() > first_wave.size() + 2);
    // Cutoff t0 + 1h: every first-wave segment but the last one goes.
    f.env.Set(t0 + 25 * kHour);
    REQUIRE(f.store.TrimStream("s").ok());
    auto now = Value(ListSegments(&f.env, dir));
    CHECK(now.front() == first_wave.back());
    CHECK(now.size() == both.size() - (first_wave.size() - 1));
    // A longer retention keeps what is left; trimming again is a no-op.
    REQUIRE(f.store.SetRetention("s", 48).ok());
    f.env.Set(t0 + 40 * kHour);
    REQUIRE(f.store.TrimStream("s").ok());
    CHECK(Value(ListSegments(&f.env, dir)) == now);
    // Far in the future everything old goes, except the active segment.
    f.env.Set(t0 + 1000 * kHour);
    REQUIRE(f.store.TrimStream("s").ok());
    CHECK(Value(ListSegments(&f.env, dir)) == std::vector<uint64_t>{both.back()});
    auto recs = ReadShard(f.store, "s", 0);
    REQUIRE(!recs.empty());
    CHECK(recs.front().sequence == Seq(both.back()));
    CHECK(recs.back().sequence == Seq(200));
  }

  TEST_CASE("CursorOverASealedParentEndsAfterItsLastRecord") {
    CursorFixture f(4096);
    auto log = f.Fill(80, 100, 4);
    auto open_before = f.Open(IteratorType::kTrimHorizon);
    ShardCursor::State state;
    CHECK(ReadAll(*open_before, &state).size() == 80);
    CHECK(state == ShardCursor::State::kCaughtUp);
    REQUIRE(f.store.SplitShard("s", 0, uint128(1) << 127).ok());
    CHECK(ReadAll(*open_before, &state).empty());
    CHECK(state == ShardCursor::State::kShardEnd);
    CHECK(ReadAll(*open_before, &state).empty());
    CHECK(state == ShardCursor::State::kShardEnd);

    auto recs = ReadShard(f.store, "s", 0, {}, &state);
    CHECK(recs.size() == 80);
    CHECK(state == ShardCursor::State::kShardEnd);
    ReadShard(f.store, "s", 0, {IteratorType::kLatest, 0, 0}, &state);
    CHECK(state == ShardCursor::State::kShardEnd);
    recs = ReadShard(f.store, "s", 0, {IteratorType::kAfterSequenceNumber, Seq(80), 0}, &state);
    CHECK(recs.empty());
    CHECK(state == ShardCursor::State::kShardEnd);
    recs = ReadShard(f.store, "s", 0, {IteratorType::kAtSequenceNumber, Seq(75), 0}, &state);
    CHECK(recs.size() == 6);
    CHECK(state == ShardCursor::State::kShardEnd);
    // The children are open: a cursor on one is caught up, not ended.
    ReadShard(f.store, "s", 1, {}, &state);
    CHECK(state == ShardCursor::State::kCaughtUp);
  }
}
