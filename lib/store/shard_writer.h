// ShardWriter: appends records to one shard's segments, safely alongside other
// processes appending to the same shard.
//
// Each Append takes the shard's flock for the whole batch: it checks the end
// of the active segment (cutting a torn tail left by a crashed writer), assigns
// counters and arrival times, writes every frame with one write(2), adds index
// hints, and rolls to a new segment when the active one is full or old.
// Not thread-safe; one instance per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/hash_key.h"
#include "core/status.h"
#include "store/segment.h"

namespace kstream {

struct AppendEntry {
  std::string_view partition_key;
  std::string_view data;
  std::optional<uint128> explicit_hash_key;
};

struct SegmentPolicy {
  uint64_t max_segment_bytes = 64ull << 20;
  int64_t max_segment_age_ms = 3600 * 1000;
  int64_t retention_ms = 24 * 3600 * 1000;  // segments older than this are removed at roll time
};

class ShardWriter {
 public:
  static Result<std::unique_ptr<ShardWriter>> Open(Env* env, std::string shard_dir,
                                                   SegmentPolicy policy);
  ~ShardWriter();

  struct Appended {
    uint64_t first_counter;  // entries got first_counter, first_counter + 1, ...
    int64_t arrival_ms;      // the same arrival time for the whole batch
  };
  // Appends entries as consecutive records. Fails with kFailedPrecondition when
  // the shard is sealed (closed by resharding) and kNotFound when the stream
  // was deleted; nothing of the batch is written then. On an I/O error the
  // batch may be partly on disk but is not reported; the next Append cuts it.
  Result<Appended> Append(std::span<const AppendEntry> entries);

  // Makes everything appended so far durable.
  Status Sync();
  // Hands over the files holding data appended since the last collection, so
  // another thread can sync them while this one keeps appending.
  void CollectUnsynced(std::vector<std::shared_ptr<AppendFile>>& out);

  // Closes the shard: appends a seal frame carrying the last counter, syncs,
  // and returns that counter. Later Appends from any process fail.
  Result<uint64_t> Seal();

 private:
  ShardWriter(Env* env, std::string dir, SegmentPolicy policy);
  // With the lock held: makes active_/known_end_/last_counter_ describe the
  // true end of the shard, following rolls. kFailedPrecondition if sealed.
  Status FindEnd();
  Status OpenNewestSegment();
  Status OpenSegment(uint64_t first_counter, bool create);
  Status ScanTail(uint64_t file_size);
  Status Roll();

  Env* env_;
  std::string dir_;
  SegmentPolicy policy_;
  std::unique_ptr<LockFile> lock_;
  std::shared_ptr<AppendFile> active_;
  std::unique_ptr<AppendFile> index_;
  SegmentHeader header_;
  uint64_t known_end_ = 0;  // end of the last good frame, as last checked
  uint64_t last_counter_ = 0;
  int64_t last_time_ms_ = 0;
  FrameType last_type_ = FrameType::kRecord;
  bool unsynced_ = false;
  std::vector<std::shared_ptr<AppendFile>> unsynced_previous_;  // rolled, not yet synced
  std::string frames_;
  std::string index_entries_;
};

}  // namespace kstream
