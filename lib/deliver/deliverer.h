// Deliverer: the Firehose role of kstream-deliver, as a deferring
// BatchHandler of a consumer-group worker. Records are buffered per shard,
// routed by the prefix template into one part per evaluated prefix, and
// flushed when the shard's buffer reaches buffer_bytes or its oldest record
// has waited buffer_interval_ms: each part is compressed into one file.
//
// A flush makes files visible exactly once (see intent.h):
//   1. each part is written under DIR/.kstream-deliver/GROUP/staging/, fsynced;
//   2. the lease is checked (a worker that lost the shard writes nothing);
//   3. the flush intent is written atomically;
//   4. each staged file is renamed to its final name, its directory fsynced;
//   5. only then does Delivered() report the buffer's last record, and the
//      worker checkpoints it.
// Steps 1-4 run under a per-shard lock file, which the next owner of the
// shard also takes to read the intent, so an intent is never read half-done.
// No partial file ever carries a final name; a failure (missing or
// unwritable directory, full disk) returns an error naming the file and the
// checkpoint does not move.
//
// Not thread-safe; one per worker.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "consume/batch_handler.h"
#include "core/env.h"
#include "deliver/compress.h"
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
};

struct DeliverStats {
  uint64_t records = 0;        // in visible files
  uint64_t error_records = 0;  // of those, under the error prefix
  uint64_t bytes_in = 0;       // file contents before compression
  uint64_t bytes_out = 0;      // file sizes
  uint64_t files = 0;
  int64_t newest_arrival_ms = 0;  // of the records handed over, for the lag
};

class Deliverer final : public BatchHandler {
 public:
  // Checks that the target exists and is writable, and prepares the state
  // directory.
  static Result<std::unique_ptr<Deliverer>> Open(DeliverOptions options, Env* env);

  size_t max_batch() const override { return 10000; }
  Result<bool> Handle(uint64_t shard, const RecordBatch& records, const Context& ctx) override;
  Result<bool> Flush() override { return true; }
  bool defers_delivery() const override { return true; }
  std::optional<uint128> Delivered(uint64_t shard) const override;
  Status DeliverDue(const Context& ctx) override;
  Status DeliverShard(uint64_t shard, const Context& ctx) override;
  int64_t next_due_ms() const override;
  void Release(uint64_t shard) override { shards_.erase(shard); }

  const DeliverStats& stats() const { return stats_; }
  // DIR/.kstream-deliver/GROUP
  const std::string& state_dir() const { return state_dir_; }

 private:
  struct Part {
    std::string bytes;
    uint128 first = 0, last = 0;
    int64_t first_arrival_ms = 0;
    uint64_t records = 0;
    bool errors = false;
  };
  struct ShardState {
    bool recovered = false;
    std::optional<uint128> skip_through;  // covered by a finished intent
    std::optional<uint128> delivered;
    std::unique_ptr<LockFile> lock;
    std::map<std::string, Part> parts;  // by evaluated prefix
    uint64_t buffered = 0;
    int64_t since_ms = 0;  // when the oldest buffered record was handed over
    uint128 last = 0;      // last buffered record
  };

  Deliverer(DeliverOptions options, Env* env, std::unique_ptr<Compressor> compressor);
  // Takes the shard's lock, finishes the renames of its intent, and drops
  // staged files no intent names.
  Status Recover(uint64_t shard, ShardState& st);
  void Add(uint64_t shard, ShardState& st, const RecordBatch::Record& r);
  Status FlushShard(uint64_t shard, ShardState& st, const Context& ctx);
  Status Publish(const FlushIntent& intent);
  // Creates the directory of a final file, and makes new directories durable.
  Status MakeDir(const std::string& dir);
  std::string IntentPath(uint64_t shard) const;

  DeliverOptions o_;
  Env* env_;
  std::unique_ptr<Compressor> compressor_;
  std::string state_dir_, staging_dir_;
  std::map<uint64_t, ShardState> shards_;
  std::set<std::string> known_dirs_;  // created and synced by this process
  DeliverStats stats_;
  std::string prefix_, compressed_;  // scratch
  PrefixTemplate::RouteError route_error_;
};

// The group name used when --name is not given: "deliver-" + the target
// directory's last component + a hash of its absolute path.
std::string DefaultDeliverGroup(const std::string& dir);

}  // namespace kstream
