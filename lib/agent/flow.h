// Flow: one flow of kstream-agent at work. A Tailer feeds it records (it is
// the RecordSink); it runs the converters, batches records into its stream
// (maxBufferSizeRecords / maxBufferSizeBytes / maxBufferAgeMillis), makes
// them durable by group commit (StreamWriter::BeginSync) and then tells the
// tailer which offsets are durable. Reading pauses (Full) while
// publishQueueCapacity batches are written but not durable: the bound on
// what a crash can repeat. Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"
#include "agent/convert.h"
#include "agent/tailer.h"
#include "core/env.h"
#include "store/backend.h"

namespace kstream::agent {

struct FlowStats {
  std::string flow;  // FlowConfig::Id()
  std::string stream;
  uint64_t lines = 0;           // lines read from files
  uint64_t records_sent = 0;    // durable in the stream
  uint64_t bytes_sent = 0;      // data bytes of those
  uint64_t parse_failures = 0;  // LOGTOJSON lines that did not match
  uint64_t truncated = 0;       // records cut to the size limit
  std::vector<FileProgress> files;
};

// (file id, offset) pairs, at most one per file, keeping the largest offset.
class Marks {
 public:
  void Add(uint64_t file, uint64_t offset) {
    for (auto& [f, o] : marks_)
      if (f == file) {
        if (offset > o) o = offset;
        return;
      }
    marks_.emplace_back(file, offset);
  }
  void Merge(const Marks& other) {
    for (auto [f, o] : other.marks_) Add(f, o);
  }
  bool empty() const { return marks_.empty(); }
  void clear() { marks_.clear(); }
  const std::vector<std::pair<uint64_t, uint64_t>>& items() const { return marks_; }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> marks_;
};

class Flow final : public RecordSink {
 public:
  Flow(const FlowConfig& config, ConverterChain chain, std::unique_ptr<StreamWriter> writer,
       const TailerOptions& tailer_options, Env* env);

  Tailer& tailer() { return tailer_; }
  StreamWriter& writer() { return *writer_; }

  Status Record(uint64_t file_id, std::string_view data, uint64_t end, bool truncated) override;

  Status Skip(uint64_t file_id, uint64_t end) override { return Mark(file_id, end); }

  // Too many records written and not yet durable: stop reading for now.
  bool Backlogged() const { return unacked_records_ >= MaxUnacked(); }
  bool Full() const override { return unacked_records_ + entries_.size() >= MaxUnacked(); }
  // The records that may be written but not yet durable (the repeat bound).
  uint64_t MaxUnacked() const {
    return config_.publish_queue_capacity * config_.max_buffer_records;
  }
  bool HasBatch() const { return !entries_.empty() || !batch_marks_.empty(); }
  // Milliseconds until the open batch reaches maxBufferAgeMillis (-1: none).
  int64_t BatchDeadlineMs(int64_t now) const {
    if (!HasBatch()) return -1;
    return std::max<int64_t>(0, batch_started_ms_ + config_.max_buffer_age_ms - now);
  }

  Status FlushIfAged(int64_t now) {
    if (HasBatch() && now - batch_started_ms_ >= config_.max_buffer_age_ms) return Flush();
    return Status::Ok();
  }

  // Puts the open batch into the stream (not yet durable).
  Status Flush();

  // Starts a background sync of everything put (one at a time) when the
  // reader is idle, the interval is up, or half the backlog allowance is used.
  Status MaybeBeginSync(bool idle, int64_t now);

  // Applies completed syncs to the tailer's checkpoints. True if any.
  Result<bool> Acknowledge();

  // Everything put becomes durable now (at the end).
  Status SyncAll();

  const FlowStats& stats() {
    stats_.lines = tailer_.lines();
    stats_.files = tailer_.Progress();
    return stats_;
  }

 private:
  struct Entry {
    size_t offset;
    uint32_t key_len, data_len;
  };
  struct SyncGroup {
    uint64_t ticket;
    Marks marks;
    uint64_t records, bytes;
  };

  void AckGroup(const SyncGroup& g);

  Status Mark(uint64_t file_id, uint64_t end);

  void Append(std::string_view data, bool truncated);

  // RANDOM: decimal text of a random double in [0, 1000000); DETERMINISTIC:
  // lowercase hex MD5 of the record's bytes (as the Kinesis Agent means it).
  void AppendKey(std::string_view data);

  uint64_t NextRandom() {  // splitmix64
    uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  const FlowConfig& config_;
  ConverterChain chain_;
  std::unique_ptr<StreamWriter> writer_;
  Tailer tailer_;
  Env* env_;
  FlowStats stats_;
  uint64_t rng_;
  // The open batch.
  std::string arena_;
  std::vector<Entry> entries_;
  Marks batch_marks_;
  uint64_t batch_data_bytes_ = 0;
  int64_t batch_started_ms_ = 0;
  std::vector<PutRecord> views_;
  std::vector<PutResult> results_;
  // Put, no sync started yet; syncs in flight (oldest first).
  Marks unsynced_marks_;
  uint64_t unsynced_records_ = 0, unsynced_bytes_ = 0;
  std::deque<SyncGroup> groups_;
  uint64_t unacked_records_ = 0;
  int64_t last_sync_ms_;
};

}  // namespace kstream::agent
