// lib/store segment format: headers, frames, the recovery policy (torn tail,
// damage in the middle) and segment rolling, on real files.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/crc32c.h"
#include "store/local_store.h"
#include "store/segment.h"
#include "store/shard_files.h"
#include "store/shard_writer.h"
#include "test_util.h"

using namespace kstream;
using kstest::FakeClockEnv;
using kstest::ReadFileBytes;
using kstest::TempDir;
using kstest::Value;
using kstest::WriteFileBytes;

namespace {

const std::string kFirstSegment = "00000000000000000001.seg";

struct Written {
  uint64_t counter;
  std::string key, data;
  std::optional<uint128> ehk;
};

struct ReadBack {
  std::vector<Written> records;
  std::vector<uint64_t> frame_ends;  // end offset of every frame read, rolls and seals too
  FrameType last_type = FrameType::kRecord;
  uint64_t corrupt = 0;
};

// Reads a segment file to its end of data with a SegmentReader.
ReadBack ReadSegment(Env* env, const std::string& path) {
  auto reader = Value(SegmentReader::Open(env, path));
  ReadBack out;
  Frame f;
  for (;;) {
    auto next = Value(reader->Read(f));
    if (next == SegmentReader::Next::kEndOfData) break;
    out.frame_ends.push_back(f.offset + f.size);
    out.last_type = f.type;
    if (f.type == FrameType::kRecord)
      out.records.push_back(
          {f.counter, std::string(f.partition_key), std::string(f.data), f.explicit_hash_key});
  }
  out.corrupt = reader->corrupt_frames();
  return out;
}

// Appends records (one batch) and remembers what they should read back as.
void Append(ShardWriter& w, std::vector<Written>& log, std::vector<Written> batch) {
  std::vector<AppendEntry> entries;
  for (const auto& r : batch) entries.push_back({r.key, r.data, r.ehk});
  auto appended = Value(w.Append(entries));
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].counter = appended.first_counter + i;
    log.push_back(batch[i]);
  }
}

void CheckSame(const std::vector<Written>& got, const std::vector<Written>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].counter == want[i].counter);
    CHECK(got[i].key == want[i].key);
    CHECK(got[i].data == want[i].data);
    CHECK(got[i].ehk == want[i].ehk);
  }
}

// A shard directory holding one segment with a few assorted records.
std::vector<Written> WriteSmallShard(Env* env, const std::string& dir, int records) {
  REQUIRE(env->CreateDir(dir).ok());
  auto w = Value(ShardWriter::Open(env, dir, SegmentPolicy{}));
  std::vector<Written> log;
  for (int i = 0; i < records; i += 2) {
    std::vector<Written> batch;
    batch.push_back({0, "key-" + std::to_string(i), std::string(size_t(10 + i * 7), char('a' + i)),
                     std::nullopt});
    if (i + 1 < records)
      batch.push_back(
          {0, "k", "", i == 2 ? std::optional<uint128>(kMaxHashKey - 5) : std::nullopt});
    Append(*w, log, batch);
  }
  return log;
}

// `path` holds the first part of a writer's write(); the rest lands when a
// reader first asks a file's size (or on FinishWrite()): a reader's pread
// that caught the writer mid-write, and the write finishing before the
// reader looks at the file size.
class WriteFinishesOnSizeEnv final : public EnvWrapper {
 public:
  WriteFinishesOnSizeEnv(std::string path, std::string rest)
      : EnvWrapper(Env::Default()), path_(std::move(path)), rest_(std::move(rest)) {}
  Result<std::unique_ptr<ReadFile>> OpenRead(const std::string& path) override {
    KS_ASSIGN_OR_RETURN(auto f, target()->OpenRead(path));
    return std::unique_ptr<ReadFile>(new File(std::move(f), this));
  }
  void FinishWrite() {
    if (finished_) return;
    finished_ = true;
    std::ofstream out(path_, std::ios::binary | std::ios::app);
    out << rest_;
  }
  bool raced = false;  // the write finished inside a size check

 private:
  class File final : public ReadFile {
   public:
    File(std::unique_ptr<ReadFile> f, WriteFinishesOnSizeEnv* env) : f_(std::move(f)), env_(env) {}
    Result<uint64_t> Size() override {
      if (!env_->finished_) {
        env_->raced = true;
        env_->FinishWrite();
      }
      return f_->Size();
    }
    Result<size_t> ReadAt(uint64_t offset, size_t n, char* buf) override {
      return f_->ReadAt(offset, n, buf);
    }
    const std::string& path() const override { return f_->path(); }

   private:
    std::unique_ptr<ReadFile> f_;
    WriteFinishesOnSizeEnv* env_;
  };
  std::string path_, rest_;
  bool finished_ = false;
};

}  // namespace

TEST_SUITE("segment") {
  TEST_CASE("SegmentHeaderRoundTripsAndRejectsDamage") {
    const std::string h = EncodeSegmentHeader({42, 1700000000123});
    REQUIRE(h.size() == kSegmentHeaderSize);
    CHECK(h.substr(0, 8) == "KSTRMSEG");
    auto d = Value(DecodeSegmentHeader(h, "x.seg"));
    CHECK(d.first_counter == 42);
    CHECK(d.first_time_ms == 1700000000123);
    CHECK(DecodeSegmentHeader(h.substr(0, 31), "x.seg").status().code() == StatusCode::kCorruption);
    for (size_t i = 0; i < h.size(); ++i) {
      std::string bad = h;
      bad[i] ^= 0x10;
      CHECK(DecodeSegmentHeader(bad, "x.seg").status().code() == StatusCode::kCorruption);
    }
    // A good checksum over an unknown version is still refused.
    std::string v2 = h;
    v2[8] = 2;
    const uint32_t crc = crc32c::Mask(crc32c::Value(v2.data(), 28));
    std::memcpy(v2.data() + 28, &crc, 4);
    auto r = DecodeSegmentHeader(v2, "x.seg");
    CHECK(r.status().code() == StatusCode::kCorruption);
    CHECK(r.status().message().find("x.seg") != std::string::npos);
    // A whole header of garbage on disk is corruption.
    TempDir tmp;
    WriteFileBytes(tmp.Sub(kFirstSegment), std::string(kSegmentHeaderSize, 'x'));
    CHECK(SegmentReader::Open(Env::Default(), tmp.Sub(kFirstSegment)).status().code() ==
          StatusCode::kCorruption);
  }

  TEST_CASE("FramesRoundTripAndEveryPrefixIsIncomplete") {
    std::string buf;
    AppendFrame(buf, FrameType::kRecord, 7, 123456, uint128(99), "pk", "payload");
    CHECK(buf.size() == FrameSize(2, 7, true));
    const size_t first = buf.size();
    AppendFrame(buf, FrameType::kRoll, 7, 123457, std::nullopt, {}, {});
    CHECK(buf.size() - first == kFrameOverhead);
    Frame f;
    REQUIRE(DecodeFrame(buf, f) == DecodeResult::kOk);
    CHECK(f.type == FrameType::kRecord);
    CHECK(f.counter == 7);
    CHECK(f.arrival_ms == 123456);
    CHECK(f.explicit_hash_key == std::optional<uint128>(99));
    CHECK(f.partition_key == "pk");
    CHECK(f.data == "payload");
    CHECK(f.size == first);
    REQUIRE(DecodeFrame(std::string_view(buf).substr(first), f) == DecodeResult::kOk);
    CHECK(f.type == FrameType::kRoll);
    CHECK(!f.explicit_hash_key.has_value());
    for (size_t n = 0; n < first; ++n) {
      CHECK(DecodeFrame(std::string_view(buf).substr(0, n), f) == DecodeResult::kIncomplete);
    }
    for (size_t i = 0; i < first; ++i) {
      std::string bad = buf.substr(0, first);
      bad[i] ^= 0x01;
      CHECK(DecodeFrame(bad, f) != DecodeResult::kOk);
    }
  }

  TEST_CASE("SegmentFileNamesAreZeroPaddedCounters") {
    CHECK(SegmentFileName(1) == kFirstSegment);
    CHECK(IndexFileName(12345) == "00000000000000012345.idx");
    CHECK(ParseSegmentFileName(kFirstSegment) == std::optional<uint64_t>(1));
    CHECK(ParseSegmentFileName(SegmentFileName(UINT64_MAX)) == std::optional<uint64_t>(UINT64_MAX));
    for (const char* bad : {"00000000000000000001.idx", "1.seg", "lock", "0000000000000000000x.seg",
                            "00000000000000000001.seg.tmp"}) {
      CHECK(!ParseSegmentFileName(bad).has_value());
    }
  }

  TEST_CASE("TornTailIsTreatedAsEndAndCutBeforeTheNextAppend") {
    TempDir tmp;
    Env* env = Env::Default();
    const auto log = WriteSmallShard(env, tmp.Sub("orig"), 7);
    const std::string full = ReadFileBytes(tmp.Sub("orig/" + kFirstSegment));
    const auto whole = ReadSegment(env, tmp.Sub("orig/" + kFirstSegment));
    CheckSame(whole.records, log);
    REQUIRE(whole.frame_ends.back() == full.size());

    for (size_t cut = 0; cut <= full.size(); ++cut) {
      CAPTURE(cut);
      const std::string dir = tmp.Sub("cut-" + std::to_string(cut));
      REQUIRE(env->CreateDir(dir).ok());
      const std::string path = dir + "/" + kFirstSegment;
      WriteFileBytes(path, std::string_view(full).substr(0, cut));
      size_t intact = 0;
      while (intact < whole.frame_ends.size() && whole.frame_ends[intact] <= cut) ++intact;
      const std::vector<Written> expect(log.begin(), log.begin() + long(intact));
      if (cut >= kSegmentHeaderSize) {
        auto got = ReadSegment(env, path);
        CheckSame(got.records, expect);
        CHECK(got.corrupt == 0);
      } else {
        // A short header may still be being written: not corruption (yet).
        CHECK(SegmentReader::Open(env, path).status().code() == StatusCode::kFailedPrecondition);
      }
      // The next writer cuts the torn bytes and continues the numbering.
      auto w = Value(ShardWriter::Open(env, dir, SegmentPolicy{}));
      auto more = expect;
      Append(*w, more, {{0, "after", "the crash", std::nullopt}});
      CHECK(more.back().counter == intact + 1);
      auto again = ReadSegment(env, path);
      CheckSame(again.records, more);
      CHECK(again.corrupt == 0);
      CHECK(again.frame_ends.back() == std::filesystem::file_size(path));
      std::filesystem::remove_all(dir);
    }
  }

  TEST_CASE("FlippedByteInAMiddleRecordIsSkippedAndCounted") {
    TempDir tmp;
    Env* env = Env::Default();
    const auto log = WriteSmallShard(env, tmp.Sub("orig"), 10);
    const std::string full = ReadFileBytes(tmp.Sub("orig/" + kFirstSegment));
    const auto whole = ReadSegment(env, tmp.Sub("orig/" + kFirstSegment));
    const size_t victim = 4;  // counter 5, with records before and after it
    const uint64_t start = whole.frame_ends[victim - 1], end = whole.frame_ends[victim];
    auto expect = log;
    expect.erase(expect.begin() + long(victim));
    const std::string path = tmp.Sub(kFirstSegment);
    // Every byte of the frame, including a length that now runs past the end
    // of the file (0x01 on its third byte) or past the largest body (0x80).
    for (uint64_t pos = start; pos < end; ++pos) {
      for (char mask : {char(0x01), char(0x80)}) {
        CAPTURE(pos - start);
        CAPTURE(int(mask));
        std::string bad = full;
        bad[pos] ^= mask;
        WriteFileBytes(path, bad);
        auto got = ReadSegment(env, path);
        CheckSame(got.records, expect);
        CHECK(got.corrupt == 1);
      }
    }
  }

  TEST_CASE("FlippedByteInTheLastRecordIsTreatedAsATornTail") {
    TempDir tmp;
    Env* env = Env::Default();
    const std::string dir = tmp.Sub("shard");
    auto log = WriteSmallShard(env, dir, 6);
    const std::string path = dir + "/" + kFirstSegment;
    const auto whole = ReadSegment(env, path);
    std::string bytes = ReadFileBytes(path);
    const uint64_t last_start = whole.frame_ends[whole.frame_ends.size() - 2];
    bytes[(last_start + bytes.size()) / 2] ^= 0x40;
    WriteFileBytes(path, bytes);
    log.pop_back();
    auto got = ReadSegment(env, path);
    CheckSame(got.records, log);
    CHECK(got.corrupt == 0);
    auto w = Value(ShardWriter::Open(env, dir, SegmentPolicy{}));
    Append(*w, log, {{0, "k2", "replacement", std::nullopt}});
    CHECK(log.back().counter == 6);  // the damaged record was never a good one
    CheckSame(ReadSegment(env, path).records, log);
  }

  // Regression (tests/cli/stress.sh, "follower lost 1 record" under load): a
  // reader that read half of a frame being written, and found the file
  // complete when it then checked its size, skipped that good frame as
  // damaged instead of reading it again.
  TEST_CASE("FrameCompletedBetweenReadAndSizeCheckIsReadNotSkipped") {
    TempDir tmp;
    const auto log = WriteSmallShard(Env::Default(), tmp.Sub("orig"), 6);  // batches of 2
    const std::string full = ReadFileBytes(tmp.Sub("orig/" + kFirstSegment));
    const auto whole = ReadSegment(Env::Default(), tmp.Sub("orig/" + kFirstSegment));
    // Inside the last batch's first frame, at every byte from its start.
    const uint64_t start = whole.frame_ends[3], end = whole.frame_ends[4];
    for (uint64_t cut = start; cut < end; ++cut) {
      CAPTURE(cut - start);
      const std::string path = tmp.Sub("cut");
      WriteFileBytes(path, std::string_view(full).substr(0, cut));
      WriteFinishesOnSizeEnv env(path, full.substr(cut));
      // Read to the end of the data, let the write finish (if it did not
      // already), and read on, as a follower does.
      auto reader = Value(SegmentReader::Open(&env, path));
      std::vector<Written> got;
      Frame f;
      for (int pass = 0; pass < 2; ++pass) {
        while (Value(reader->Read(f)) == SegmentReader::Next::kFrame)
          got.push_back(
              {f.counter, std::string(f.partition_key), std::string(f.data), f.explicit_hash_key});
        env.FinishWrite();
      }
      CheckSame(got, log);
      CHECK(reader->corrupt_frames() == 0);
      // Once a whole frame header was visible, the reader checked the size.
      if (cut - start >= kFrameHeaderSize) CHECK(env.raced);
    }
  }

  TEST_CASE("SmallSegmentsRollAndReadBackInOrder") {
    TempDir tmp;
    FakeClockEnv env;
    LocalStore store(&env, tmp.path());
    store.set_max_segment_bytes(4096);
    REQUIRE(store.CreateStream("s", 1, 24).ok());
    auto w = Value(store.OpenWriter("s", SyncMode::kNever));
    std::vector<std::string> datas;
    for (int i = 0; i < 600; ++i)
      datas.push_back(std::to_string(i) + std::string(size_t(i % 150), 'x'));
    std::vector<PutResult> results;
    for (size_t i = 0; i < datas.size();) {
      const size_t n = std::min(datas.size() - i, size_t(1 + i % 5));
      std::vector<PutRecord> recs;
      for (size_t k = i; k < i + n; ++k) recs.push_back({"key", datas[k], std::nullopt});
      REQUIRE(w->Put(recs, results).ok());
      i += n;
      env.Advance(1);
    }
    const std::string dir = store.ShardDir("s", 0);
    const auto segs = Value(ListSegments(&env, dir));
    CHECK(segs.size() > 10);
    uint64_t expect_first = 1;
    for (size_t i = 0; i < segs.size(); ++i) {
      CAPTURE(i);
      const std::string path = dir + "/" + SegmentFileName(segs[i]);
      CHECK(std::filesystem::file_size(path) <= 4096 + kFrameOverhead);
      CHECK(segs[i] == expect_first);
      auto seg = ReadSegment(&env, path);
      REQUIRE(!seg.records.empty());
      CHECK(seg.records.front().counter == segs[i]);
      CHECK(seg.last_type == (i + 1 < segs.size() ? FrameType::kRoll : FrameType::kRecord));
      expect_first = seg.records.back().counter + 1;
    }
    auto recs = kstest::ReadShard(store, "s", 0);
    REQUIRE(recs.size() == datas.size());
    for (size_t i = 0; i < recs.size(); ++i) {
      CHECK(SequenceCounter(recs[i].sequence) == i + 1);
      CHECK(recs[i].data == datas[i]);
    }
    auto stats = Value(store.DescribeStream("s")).stats[0];
    CHECK(stats.records == datas.size());
    CHECK(stats.segments == segs.size());
  }

  TEST_CASE("RollFrameWithoutANextSegmentIsCompletedByTheNextWriter") {
    TempDir tmp;
    Env* env = Env::Default();
    const std::string dir = tmp.Sub("shard");
    auto log = WriteSmallShard(env, dir, 3);
    // A writer that crashed between appending its roll frame and creating the
    // next segment.
    std::string roll;
    AppendFrame(roll, FrameType::kRoll, 3, env->NowMillis(), std::nullopt, {}, {});
    std::string bytes = ReadFileBytes(dir + "/" + kFirstSegment) + roll;
    WriteFileBytes(dir + "/" + kFirstSegment, bytes);
    auto w = Value(ShardWriter::Open(env, dir, SegmentPolicy{}));
    Append(*w, log, {{0, "k", "in segment 4", std::nullopt}});
    CHECK(log.back().counter == 4);
    CHECK(Value(ListSegments(env, dir)) == std::vector<uint64_t>{1, 4});
    auto second = ReadSegment(env, dir + "/" + SegmentFileName(4));
    REQUIRE(second.records.size() == 1);
    CHECK(second.records[0].data == "in segment 4");
  }
}
