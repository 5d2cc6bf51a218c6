// Shared by the cursor tests: a one-stream store filled with records whose
// arrival times follow the fake clock, and checks of seeks against the log.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "store/local_store.h"
#include "test_util.h"

namespace kstest {

using namespace kstream;  // only the cursor tests include this header

struct Written {
  uint64_t counter;
  int64_t arrival_ms;
  std::string data;
};

// A one-stream store ("s") whose records all go to shard 0 (explicit hash
// key 0), with helpers to fill it and to open cursors on it.
struct CursorFixture : TestStore {
  explicit CursorFixture(uint64_t max_segment_bytes = 64ull << 20, int shards = 1) {
    store.set_max_segment_bytes(max_segment_bytes);
    REQUIRE(store.CreateStream("s", shards, 24).ok());
  }

  // Writes `count` records to shard 0 in batches of `batch`; the clock moves
  // `step_ms` after each batch, so a batch shares one arrival time.
  std::vector<Written> Fill(int count, size_t data_size, int batch = 1, int64_t step_ms = 1) {
    auto w = Value(store.OpenWriter("s", SyncMode::kNever));
    std::vector<Written> log;
    std::vector<std::string> datas;
    std::vector<PutResult> results;
    for (int i = 0; i < count; i += batch) {
      datas.clear();
      std::vector<PutRecord> recs;
      for (int k = i; k < std::min(count, i + batch); ++k) {
        std::string d = "#" + std::to_string(k) + ":";
        d.resize(std::max(d.size(), data_size), char('a' + k % 26));
        datas.push_back(std::move(d));
      }
      for (const auto& d : datas) recs.push_back({"pk", d, uint128(0)});
      REQUIRE(w->Put(recs, results).ok());
      for (size_t k = 0; k < recs.size(); ++k)
        log.push_back({*SequenceCounter(results[k].sequence), env.NowMillis(), datas[k]});
      env.Advance(step_ms);
    }
    return log;
  }

  std::unique_ptr<ShardCursor> Open(IteratorType type, uint128 seq = 0, int64_t ts = 0,
                                    uint64_t shard = 0) {
    return Value(store.OpenCursor("s", shard, {type, seq, ts}));
  }

  // The first record a cursor returns, if any.
  std::optional<Rec> First(IteratorType type, uint128 seq = 0, int64_t ts = 0) {
    auto cursor = Open(type, seq, ts);
    RecordBatch batch;
    Value(cursor->Read(batch, 1, 1 << 20));
    if (batch.empty()) return std::nullopt;
    auto r = batch[0];
    return Rec{r.sequence.low128(), r.arrival_ms, r.explicit_hash_key, std::string(r.partition_key),
               std::string(r.data)};
  }
};

inline uint128 Seq(uint64_t counter) {
  return MakeSequenceNumber(0, counter);
}

// Checks a seek against the log: the record `want` (an index into log) or none.
inline void CheckFirst(const std::optional<Rec>& got, const std::vector<Written>& log,
                       size_t want) {
  if (want >= log.size()) {
    CHECK(!got.has_value());
    return;
  }
  REQUIRE(got.has_value());
  CHECK(got->sequence == Seq(log[want].counter));
  CHECK(got->data == log[want].data);
  CHECK(got->arrival_ms == log[want].arrival_ms);
}

// Index of the first record with arrival >= t.
inline size_t FirstAtOrAfter(const std::vector<Written>& log, int64_t t) {
  return size_t(std::partition_point(log.begin(), log.end(),
                                     [&](const Written& w) { return w.arrival_ms < t; }) -
                log.begin());
}

// Random seeks of every kind, checked against the log.
inline void CheckSeeks(CursorFixture& f, const std::vector<Written>& log, uint32_t seed) {
  std::mt19937 rng(seed);
  for (int i = 0; i < 150; ++i) {
    const size_t k = rng() % log.size();
    CAPTURE(k);
    CheckFirst(f.First(IteratorType::kAtSequenceNumber, Seq(log[k].counter)), log, k);
    CheckFirst(f.First(IteratorType::kAfterSequenceNumber, Seq(log[k].counter)), log, k + 1);
    const int64_t t = log.front().arrival_ms - 1 +
                      int64_t(rng() % uint64_t(log.back().arrival_ms - log.front().arrival_ms + 3));
    CAPTURE(t);
    CheckFirst(f.First(IteratorType::kAtTimestamp, 0, t), log, FirstAtOrAfter(log, t));
  }
  CheckFirst(f.First(IteratorType::kAtSequenceNumber, Seq(0)), log, 0);
  CheckFirst(f.First(IteratorType::kAtSequenceNumber, Seq(log.back().counter)), log,
             log.size() - 1);
  CheckFirst(f.First(IteratorType::kAfterSequenceNumber, Seq(log.back().counter)), log, log.size());
  CheckFirst(f.First(IteratorType::kTrimHorizon), log, 0);
}

inline std::vector<uint64_t> Counters(const std::vector<Rec>& recs) {
  std::vector<uint64_t> out;
  for (const auto& r : recs) out.push_back(SequenceCounter(r.sequence));
  return out;
}

}  // namespace kstest
