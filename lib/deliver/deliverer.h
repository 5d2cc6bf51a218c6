// Deliverer: the Firehose role of kstream-deliver, as a deferring
// BatchHandler of a consumer-group worker. Records are buffered per shard,
// routed by the prefix template into one part per evaluated prefix, and
// flushed when the shard's buffer reaches buffer_bytes or its oldest record
// has waited buffer_interval_ms: each part becomes one compressed file,
// written by a Flusher (flusher.h) on background threads, exactly once.
//
// An evaluated prefix is an active partition from its first buffered record
// until the flush that writes it, counted once however many shards buffer
// it. As in Firehose, a record that would make more than max_partitions
// active goes under kPartitionsExceededPrefix instead, as an error document
// (ActivePartitionExceeded): files per flush and buffers stay bounded.
// Delivered() reports a shard's records only once their files are visible
// and durable; the worker checkpoints no further.
//
// A shard taken over (at the first batch after the worker took its lease)
// is recovered first (Flusher::Recover), and the records its newest flush
// intent covers are skipped when the worker reads them again (its
// checkpoint may lag the files).
//
// Not thread-safe; one per worker.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "consume/batch_handler.h"
#include "core/env.h"
#include "deliver/compress.h"
#include "deliver/flusher.h"
#include "deliver/intent.h"
#include "deliver/layout.h"

namespace kstream {

enum class DeliverFormat { kDelimited, kJson };

struct DeliverOptions {
  std::string stream;
  std::string dir;    // the target directory; must exist
  std::string group;  // consumer group: names the state directory
  uint64_t buffer_bytes = 5 << 20;
  int64_t buffer_interval_ms = 60'000;
  Compression compression = Compression::kNone;
  int level = 0;
  DeliverFormat format = DeliverFormat::kDelimited;
  std::string delimiter = "\n";  // after each record's data (kDelimited)
  PrefixTemplate prefix;
  size_t max_partitions = kDefaultMaxPartitions;  // active at once; at least 1
  int threads = 4;                                // flushing threads: they mostly wait for fsync
  // Whether this worker still holds a shard's lease (see Flusher::Options).
  std::function<Result<bool>(uint64_t shard)> owns;
};

class Deliverer final : public BatchHandler {
 public:
  // Checks that the target exists and is writable, and prepares the state
  // directory.
  static Result<std::unique_ptr<Deliverer>> Open(DeliverOptions options, Env* env);

  // Small enough that a batch (its records and their entries) stays in a
  // core's L2 cache: 10,000 cost about 15% more CPU per record.
  size_t max_batch() const override { return 2000; }
  Result<bool> Handle(uint64_t shard, const RecordBatch& records, const Context& ctx) override;
  Result<bool> Flush() override { return true; }
  bool defers_delivery() const override { return true; }
  std::optional<SequenceNumber> Delivered(uint64_t shard) const override;
  Status DeliverDue(const Context& ctx) override;
  Status DeliverShard(uint64_t shard, const Context& ctx) override;
  Status StartDelivery(uint64_t shard) override;
  int64_t next_due_ms() const override;
  void Release(uint64_t shard) override;

  DeliverStats stats() const;
  // DIR/.kstream-deliver/GROUP
  const std::string& state_dir() const { return state_dir_; }

 private:
  struct Part {
    std::string bytes;
    SequenceNumber first, last;
    int64_t first_arrival_ms = 0;
    uint64_t records = 0;
    bool errors = false;
  };
  struct ShardState {
    bool recovered = false;
    std::optional<SequenceNumber> skip_through;  // covered by a finished intent
    std::optional<SequenceNumber> delivered;
    std::unique_ptr<LockFile> lock;
    std::map<std::string, Part> parts;  // by evaluated prefix
    uint64_t buffered = 0;
    int64_t since_ms = 0;  // when the oldest buffered record was handed over
    SequenceNumber last;   // last buffered record
    // The part the previous record went to, and its time key (see
    // PrefixTemplate::TimeKey): most records go to the same part.
    Part* last_part = nullptr;
    int64_t last_key = -1;
  };

  Deliverer(DeliverOptions options, Env* env, std::unique_ptr<Flusher> flusher);
  Status Recover(uint64_t shard, ShardState& st);
  void Add(uint64_t shard, ShardState& st, const RecordBatch::Record& r);
  // Appends a routed record's bytes to p; returns how many.
  size_t AppendRecord(uint64_t shard, Part& p, const RecordBatch::Record& r);
  // Hands the shard's buffer to the flusher.
  Status Submit(uint64_t shard, ShardState& st);
  // Counts a routed part of a shard into the active partitions; false if it
  // would make more than max_partitions. Deactivate undoes it.
  bool Activate(const std::string& prefix);
  void Deactivate(const std::map<std::string, Part>& parts);
  // Applies the flusher's finished jobs to Delivered().
  void Reap();

  DeliverOptions o_;
  Env* env_;
  std::string state_dir_;
  std::map<uint64_t, ShardState> shards_;
  std::unique_ptr<Flusher> flusher_;  // after shards_: its jobs use their locks
  int64_t newest_arrival_ms_ = 0;
  // Active partitions: evaluated prefix -> how many shards buffer it.
  std::unordered_map<std::string, uint32_t> active_;
  std::string prefix_;  // scratch
  PrefixTemplate::RouteError route_error_;
};

// The group name used when --name is not given: "deliver-" + the target
// directory's last component + a hash of its absolute path.
std::string DefaultDeliverGroup(const std::string& dir);

}  // namespace kstream
