// lib/store cursors: every iterator type, index seeks over many segments and
// blocks, damaged index hints and damaged records.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "cursor_fixture.h"
#include "store/local_store.h"
#include "store/segment.h"
#include "store/shard_files.h"

using namespace kstream;
using namespace kstest;

TEST_SUITE("cursor") {
  TEST_CASE("TrimHorizonOnAnEmptyShardSeesLaterRecords") {
    CursorFixture f;
    auto cursor = f.Open(IteratorType::kTrimHorizon);
    ShardCursor::State state;
    CHECK(ReadAll(*cursor, &state).empty());
    CHECK(state == ShardCursor::State::kCaughtUp);
    auto log = f.Fill(100, 20, 7);
    auto recs = ReadAll(*cursor, &state);
    CHECK(state == ShardCursor::State::kCaughtUp);
    REQUIRE(recs.size() == 100);
    for (size_t i = 0; i < recs.size(); ++i) {
      CHECK(recs[i].sequence == Seq(i + 1));
      CHECK(recs[i].data == log[i].data);
      CHECK(recs[i].key == "pk");
    }
  }

  TEST_CASE("ReadHonoursRecordAndByteLimits") {
    CursorFixture f;
    f.Fill(50, 100, 50);
    auto cursor = f.Open(IteratorType::kTrimHorizon);
    RecordBatch batch;
    CHECK(Value(cursor->Read(batch, 10, 1 << 20)) == ShardCursor::State::kMore);
    CHECK(batch.size() == 10);
    batch.Clear();
    CHECK(Value(cursor->Read(batch, 1000, 250)) == ShardCursor::State::kMore);
    CHECK(batch.size() == 3);  // stops once about 250 bytes are in
    CHECK(batch[0].sequence == Seq(11));
  }

  TEST_CASE("LatestReturnsOnlyRecordsWrittenAfterTheCursorOpened") {
    CursorFixture f(4096);
    SUBCASE("empty shard") {}
    SUBCASE("records across several segments") {
      f.Fill(200, 100, 3);
    }
    const auto before = Value(f.store.DescribeStream("s")).stats[0].records;
    auto cursor = f.Open(IteratorType::kLatest);
    ShardCursor::State state;
    CHECK(ReadAll(*cursor, &state).empty());
    CHECK(state == ShardCursor::State::kCaughtUp);
    auto log = f.Fill(120, 100, 4);  // rolls over more segments
    auto recs = ReadAll(*cursor, &state);
    REQUIRE(recs.size() == 120);
    CHECK(recs.front().sequence == Seq(before + 1));
    CHECK(recs.back().data == log.back().data);
    CHECK(state == ShardCursor::State::kCaughtUp);
  }

  TEST_CASE("AtAndAfterSequenceNumberStartAtTheRightRecord") {
    CursorFixture f(4096, 2);
    auto log = f.Fill(300, 50, 3);
    CheckSeeks(f, log, 1);
    // The shard's starting sequence number (counter 0) means "from the start".
    const uint128 start = Value(f.store.ReadMeta("s")).FindShard(0)->starting_sequence().low128();
    CheckFirst(f.First(IteratorType::kAtSequenceNumber, start), log, 0);
    CheckFirst(f.First(IteratorType::kAfterSequenceNumber, start), log, 0);
    // AFTER the newest record: nothing yet, then the next one written.
    auto cursor = f.Open(IteratorType::kAfterSequenceNumber, Seq(log.back().counter));
    CHECK(ReadAll(*cursor).empty());
    auto more = f.Fill(1, 10);
    auto recs = ReadAll(*cursor);
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].data == more[0].data);
  }

  TEST_CASE("SequenceNumberOfAnotherShardIsInvalid") {
    CursorFixture f(64ull << 20, 2);
    auto check = [&](uint64_t shard) {
      for (auto type : {IteratorType::kAtSequenceNumber, IteratorType::kAfterSequenceNumber}) {
        for (uint128 seq : {MakeSequenceNumber(1 - shard, 1), MakeSequenceNumber(7, 0),
                            uint128(5) /* no shard at all */}) {
          auto c = f.store.OpenCursor("s", shard, {type, seq, 0});
          CHECK(c.status().code() == StatusCode::kInvalidArgument);
        }
      }
    };
    check(0);  // regression: an empty shard once accepted any number
    check(1);
    f.Fill(5, 10);  // shard 0 now has records
    check(0);
  }

  TEST_CASE("AtTimestampReturnsTheFirstRecordAtOrAfterT") {
    CursorFixture f(4096);
    auto log = f.Fill(400, 60, 4, 10);  // batches share a time; 10 ms apart
    for (int64_t t : {log.front().arrival_ms - 100000, log.front().arrival_ms, log[37].arrival_ms,
                      log[37].arrival_ms + 1, log[200].arrival_ms - 1, log.back().arrival_ms,
                      log.back().arrival_ms + 1}) {
      CAPTURE(t);
      const size_t want = FirstAtOrAfter(log, t);
      CheckFirst(f.First(IteratorType::kAtTimestamp, 0, t), log, want);
      if (want < log.size()) CHECK(log[want].arrival_ms >= t);
      if (want > 0) CHECK(log[want - 1].arrival_ms < t);
    }
    // T before everything gives every record.
    auto all = ReadAll(*f.Open(IteratorType::kAtTimestamp, 0, 0));
    CHECK(all.size() == log.size());
  }

  TEST_CASE("AtTimestampInTheFutureSkipsRecordsArrivingBeforeIt") {
    CursorFixture f;
    SUBCASE("empty shard") {}  // regression: the time was ignored with no segment yet
    SUBCASE("shard with records") {
      f.Fill(10, 10);
    }
    const int64_t t = f.env.NowMillis() + 1000;
    auto cursor = f.Open(IteratorType::kAtTimestamp, 0, t);
    f.Fill(5, 10, 1, 100);  // all before t
    CHECK(ReadAll(*cursor).empty());
    f.env.Set(t);
    auto later = f.Fill(3, 10);
    auto recs = ReadAll(*cursor);
    REQUIRE(recs.size() == 3);
    CHECK(recs[0].data == later[0].data);
  }

  TEST_CASE("IndexSeeksWorkAcrossManySegmentsAndBlocks") {
    CursorFixture f(300 * 1024);
    auto log = f.Fill(20000, 200, 10, 1);
    const std::string dir = f.store.ShardDir("s", 0);
    const auto segs = Value(ListSegments(&f.env, dir));
    CHECK(segs.size() >= 10);
    size_t hints = 0;
    for (uint64_t s : segs) hints += LoadIndex(&f.env, dir, s).size();
    CHECK(hints >= segs.size() * 3);  // several 64 KiB blocks per segment
    CheckSeeks(f, log, 2);
    auto all = ReadShard(f.store, "s", 0);
    REQUIRE(all.size() == log.size());
    for (size_t i = 0; i < all.size(); i += 997) CHECK(all[i].data == log[i].data);
  }

  TEST_CASE("DamagedIndexFilesDoNotChangeResults") {
    CursorFixture f(200 * 1024);
    auto log = f.Fill(5000, 200, 5, 1);
    const std::string dir = f.store.ShardDir("s", 0);
    const auto segs = Value(ListSegments(&f.env, dir));
    REQUIRE(segs.size() >= 4);
    std::mt19937 rng(7);
    SUBCASE("garbage bytes") {
      for (uint64_t s : segs) {
        std::string junk(size_t(rng() % 200), '\0');
        for (auto& c : junk) c = char(rng());
        kstest::WriteFileBytes(dir + "/" + IndexFileName(s), junk);
      }
    }
    // Rewrites field `at` (byte offset in each 24-byte entry) of every hint.
    auto edit = [&](size_t at, int64_t delta) {
      for (uint64_t s : segs) {
        const std::string path = dir + "/" + IndexFileName(s);
        if (!std::filesystem::exists(path)) continue;  // a segment under 64 KiB
        std::string idx = kstest::ReadFileBytes(path);
        for (size_t i = at; i + 8 <= idx.size(); i += 24) {
          int64_t v;
          std::memcpy(&v, idx.data() + i, 8);
          v += delta;
          std::memcpy(idx.data() + i, &v, 8);
        }
        kstest::WriteFileBytes(path, idx);
      }
    };
    SUBCASE("entries with the wrong counters") {
      edit(0, 3);
    }
    SUBCASE("entries with times too early") {
      edit(8, -50);
    }
    SUBCASE("entries pointing one byte off") {
      edit(16, 1);
    }
    SUBCASE("index files missing") {
      for (uint64_t s : segs) std::filesystem::remove(dir + "/" + IndexFileName(s));
    }
    CheckSeeks(f, log, 3);
  }

  TEST_CASE("CorruptRecordIsSkippedAndCountedByTheCursor") {
    CursorFixture f;
    auto log = f.Fill(20, 100, 1);
    const std::string path = f.store.ShardDir("s", 0) + "/" + SegmentFileName(1);
    std::string bytes = kstest::ReadFileBytes(path);
    const size_t frame = kFrameOverhead + 2 + 16 + 100;         // key "pk", explicit hash key
    bytes[kSegmentHeaderSize + frame * 9 + frame / 2] ^= 0x20;  // inside record 10
    kstest::WriteFileBytes(path, bytes);
    auto cursor = f.Open(IteratorType::kTrimHorizon);
    auto recs = ReadAll(*cursor);
    CHECK(cursor->corrupt_records() == 1);
    REQUIRE(recs.size() == 19);
    CHECK(recs[8].sequence == Seq(9));
    CHECK(recs[9].sequence == Seq(11));
    CHECK(recs[18].data == log[19].data);
  }

  // Records are views into the reader's buffer: a batch that keeps them over
  // many refills (the buffer is 1 MiB) and beyond the cursor's life must see
  // them unchanged, in batches cleared at different times.
  TEST_CASE("RecordsHeldAcrossRefillsAndAfterTheCursorKeepTheirBytes") {
    CursorFixture f;
    auto log = f.Fill(3000, 3000, 100);  // ~9 MB in one segment
    auto cursor = f.Open(IteratorType::kTrimHorizon);
    RecordBatch all, recent;
    std::vector<RecordBatch> pinned;
    size_t read = 0;
    for (int round = 0; round < 10000 && read < log.size(); ++round) {
      RecordBatch one;
      (void)Value(cursor->Read(one, 7, 1 << 20));
      for (size_t i = 0; i < one.size(); ++i) {
        all.Add(one[i].sequence, 0, std::nullopt, one[i].partition_key, one[i].data);
        recent.Add(one[i]);
      }
      // Read straight into a batch kept alive (its views pin the buffer).
      RecordBatch kept;
      (void)Value(cursor->Read(kept, 5, 1 << 20));
      read += one.size() + kept.size();
      for (size_t i = 0; i < kept.size(); ++i) all.Add(kept[i]);
      if (round % 3 == 0) recent.Clear();
      pinned.push_back(std::move(kept));
      if (pinned.size() > 40) pinned.erase(pinned.begin());  // released out of order too
    }
    cursor.reset();
    REQUIRE(all.size() == log.size());
    for (size_t i = 0; i < all.size(); ++i) {
      CHECK(all[i].sequence == Seq(i + 1));
      CHECK(all[i].data == log[i].data);
      CHECK(all[i].partition_key == "pk");
    }
  }

  TEST_CASE("ABatchOutlivesItsCursor") {
    CursorFixture f;
    auto log = f.Fill(500, 4000, 50);  // 2 MB: more than one buffer
    RecordBatch batch;
    {
      auto cursor = f.Open(IteratorType::kTrimHorizon);
      while (batch.size() < log.size())
        if (Value(cursor->Read(batch, 100, 1 << 20)) != ShardCursor::State::kMore) break;
    }
    REQUIRE(batch.size() == log.size());
    CHECK(batch.bytes() == log.size() * (2 + 4000));
    for (size_t i = 0; i < batch.size(); ++i) CHECK(batch[i].data == log[i].data);
  }
}
