// Backend: what a tool can do with a stream, wherever the stream lives. The
// local store (LocalStore) is the first implementation; an HTTP client for a
// Kinesis-compatible endpoint implements the same interface, so tools never
// know which one they talk to.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash_key.h"
#include "core/sequence_number.h"
#include "core/status.h"
#include "store/stream_meta.h"

namespace kstream {

// Kinesis limits that hold wherever the data goes.
inline constexpr size_t kMaxRecordBytes = 1 << 20;  // partition key + data
inline constexpr size_t kMaxPartitionKeyChars = 256;

enum class SyncMode { kAlways, kBatch, kNever };
Result<SyncMode> ParseSyncMode(std::string_view text);

struct ShardStats {
  uint64_t records = 0;  // records still held (after retention)
  uint64_t bytes = 0;    // bytes on disk
  uint64_t segments = 0;
  std::optional<SequenceNumber> first_sequence;  // oldest record still held
  std::optional<SequenceNumber> last_sequence;   // newest record
  std::optional<int64_t> last_arrival_ms;
};

struct StreamDescription {
  StreamMeta meta;
  std::vector<ShardStats> stats;  // one per meta.shards entry, when the backend has them
};

struct PutRecord {
  std::string_view partition_key;
  std::string_view data;
  std::optional<uint128> explicit_hash_key;
};

struct PutResult {
  uint64_t shard_index = 0;
  SequenceNumber sequence;
};

// Writes records into one stream. Not thread-safe.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Routes each record to the open shard holding its hash key and appends it;
  // on success results[i] belongs to records[i]. Records for one shard keep
  // their order. On failure no result is returned, but records routed to other
  // shards may already be written.
  virtual Status Put(std::span<const PutRecord> records, std::vector<PutResult>& results) = 0;
  // Makes every record put so far durable.
  virtual Status Sync() = 0;

  // Group commit without stalling the writer: BeginSync starts making every
  // record put so far durable and returns a ticket; Puts may go on meanwhile.
  // SyncedTicket() is the highest ticket known durable (an error if a sync
  // failed: nothing after the last good ticket may be reported written).
  // sync_event_fd() becomes readable when a sync completes (-1: syncs are
  // synchronous, done before BeginSync returns).
  virtual Result<uint64_t> BeginSync() {
    KS_RETURN_IF_ERROR(Sync());
    return ++sync_tickets_;
  }
  virtual Result<uint64_t> SyncedTicket() { return sync_tickets_; }
  virtual int sync_event_fd() const { return -1; }

  // Records the last successful Put gave up on, by index: a remote writer's
  // record TTL ran out, or a throttled record with fail-if-throttled, or the
  // service refused it. Their results are empty; every other record was
  // written. Only for a caller that asked with AllowRecordErrors(): for any
  // other, such a Put fails as a whole. (The local store writes a whole Put
  // or fails it.)
  struct RecordError {
    size_t index;
    std::string message;
  };
  void AllowRecordErrors() { record_errors_allowed_ = true; }
  const std::vector<RecordError>& record_errors() const { return record_errors_; }
  // What a writer that talks to a service went through (0 locally): calls
  // retried, and records the service throttled.
  struct Counters {
    uint64_t retries = 0;
    uint64_t throttles = 0;
  };
  const Counters& counters() const { return counters_; }

 protected:
  // A Put's end for a writer that may give up on records: Ok, or, if it gave
  // up on some and the caller cannot take that, the first one's error.
  Status RecordErrorsStatus() const {
    if (record_errors_.empty() || record_errors_allowed_) return Status::Ok();
    return Status::LimitExceeded(
        std::to_string(record_errors_.size()) +
        " record(s) of the batch were not written; the first: " + record_errors_.front().message);
  }

  std::vector<RecordError> record_errors_;
  bool record_errors_allowed_ = false;
  Counters counters_;

 private:
  uint64_t sync_tickets_ = 0;
};

enum class IteratorType {
  kTrimHorizon,
  kLatest,
  kAtSequenceNumber,
  kAfterSequenceNumber,
  kAtTimestamp
};
Result<IteratorType> ParseIteratorType(std::string_view text);
std::string_view IteratorTypeName(IteratorType t);

struct StartPosition {
  IteratorType type = IteratorType::kTrimHorizon;
  SequenceNumber sequence;   // AT_/AFTER_SEQUENCE_NUMBER
  int64_t timestamp_ms = 0;  // AT_TIMESTAMP
  // AT_SEQUENCE_NUMBER of a KPL aggregate whose user records up to this
  // sub-sequence number were processed (a consumer-group checkpoint inside
  // an aggregate): a de-aggregating reader skips them. Backends ignore it.
  std::optional<uint32_t> after_sub_sequence = std::nullopt;
};

// A batch of records read from one shard; owns their bytes, or (AddView)
// shares the memory they are in.
class RecordBatch {
 public:
  struct Record {
    SequenceNumber sequence;
    int64_t arrival_ms;
    std::optional<uint128> explicit_hash_key;
    std::string_view partition_key;
    std::string_view data;
    // A user record of a KPL aggregate (consume/deaggregate.h): its index in
    // the aggregate, whose Kinesis record has `sequence`.
    std::optional<uint32_t> sub_sequence = std::nullopt;
  };
  void Clear() {
    bytes_.clear();
    entries_.clear();
    wide_.clear();
    data_bytes_ = 0;
    holders_.clear();
    view_bytes_ = 0;
  }
  void Add(const SequenceNumber& seq, int64_t arrival_ms, const std::optional<uint128>& ehk,
           std::string_view key, std::string_view data,
           std::optional<uint32_t> sub_sequence = std::nullopt) {
    uint32_t wide = kNarrow;
    if (!seq.fits_128()) {
      wide = uint32_t(wide_.size());
      wide_.push_back(seq);
    }
    Append(seq.low128(), wide, arrival_ms, ehk, key, data, sub_sequence);
  }
  // A local store's record: its number fits 128 bits, nothing to check.
  void Add(uint128 seq, int64_t arrival_ms, const std::optional<uint128>& ehk, std::string_view key,
           std::string_view data, std::optional<uint32_t> sub_sequence = std::nullopt) {
    Append(seq, kNarrow, arrival_ms, ehk, key, data, sub_sequence);
  }
  void Add(const Record& r) {
    Add(r.sequence, r.arrival_ms, r.explicit_hash_key, r.partition_key, r.data, r.sub_sequence);
  }
  // A local store's record left where it was read (data right after key, as
  // in a segment frame), in memory that `holder` keeps alive and that is not
  // changed while it is: the batch keeps a copy of holder instead of copying
  // the bytes.
  void AddView(uint128 seq, int64_t arrival_ms, const std::optional<uint128>& ehk,
               std::string_view key, std::string_view data,
               const std::shared_ptr<const void>& holder) {
    if (holders_.empty() || holders_.back() != holder) holders_.push_back(holder);
    view_bytes_ += key.size() + data.size();
    data_bytes_ += data.size();
    entries_.push_back({seq, kNarrow, /*view=*/true, arrival_ms, ehk,
                        reinterpret_cast<uintptr_t>(key.data()), key.size(), data.size(),
                        std::nullopt});
  }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Key and data bytes of the records (owned or viewed).
  size_t bytes() const { return bytes_.size() + view_bytes_; }
  // The sum of the records' data sizes (keys not counted).
  uint64_t data_bytes() const { return data_bytes_; }
  // Record i's data alone: cheaper than operator[] where nothing else is needed.
  std::string_view data(size_t i) const {
    const Entry& e = entries_[i];
    return {Key(e) + e.key_len, e.data_len};
  }
  Record operator[](size_t i) const {
    const Entry& e = entries_[i];
    const char* p = Key(e);
    return {e.wide == kNarrow ? SequenceNumber(e.sequence) : wide_[e.wide],
            e.arrival_ms,
            e.ehk,
            {p, e.key_len},
            {p + e.key_len, e.data_len},
            e.sub_sequence};
  }

 private:
  // Local sequence numbers fit 128 bits; wider ones (a remote endpoint's)
  // live in wide_, so the common entry stays small (reads are 25% faster).
  static constexpr uint32_t kNarrow = UINT32_MAX;
  void Append(uint128 seq, uint32_t wide, int64_t arrival_ms, const std::optional<uint128>& ehk,
              std::string_view key, std::string_view data, std::optional<uint32_t> sub_sequence) {
    const size_t off = bytes_.size();
    bytes_.append(key);
    bytes_.append(data);
    data_bytes_ += data.size();
    entries_.push_back(
        {seq, wide, /*view=*/false, arrival_ms, ehk, off, key.size(), data.size(), sub_sequence});
  }
  struct Entry {
    uint128 sequence;
    uint32_t wide;
    bool view;  // at: the key's address; else its offset in bytes_
    int64_t arrival_ms;
    std::optional<uint128> ehk;
    uintptr_t at;
    size_t key_len, data_len;
    std::optional<uint32_t> sub_sequence;
  };
  const char* Key(const Entry& e) const {
    return e.view ? reinterpret_cast<const char*>(e.at) : bytes_.data() + e.at;
  }
  std::string bytes_;
  std::vector<Entry> entries_;
  std::vector<SequenceNumber> wide_;
  uint64_t data_bytes_ = 0;
  std::vector<std::shared_ptr<const void>> holders_;  // of the viewed records
  size_t view_bytes_ = 0;
};

// Reads one shard from a start position onwards. Not thread-safe.
class ShardCursor {
 public:
  enum class State {
    kMore,      // more records may be read right away
    kCaughtUp,  // no more records now; the shard is open, more may come
    kShardEnd,  // the shard is closed and everything in it was read
  };
  virtual ~ShardCursor() = default;
  // Appends up to max_records records (and about max_bytes) to batch.
  virtual Result<State> Read(RecordBatch& batch, size_t max_records, size_t max_bytes) = 0;
  virtual uint64_t shard_index() const = 0;
  // Frames found damaged and skipped so far.
  virtual uint64_t corrupt_records() const = 0;
};

// Wakes a follower when a stream may have changed. Not thread-safe.
class ChangeWatch {
 public:
  virtual ~ChangeWatch() = default;
  // Returns when something changed or timeout_ms passed (-1: no timeout).
  virtual Status Wait(int timeout_ms) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Status CreateStream(const std::string& name, int shard_count, int retention_hours) = 0;
  virtual Status DeleteStream(const std::string& name) = 0;
  virtual Result<std::vector<std::string>> ListStreams() = 0;
  virtual Result<StreamDescription> DescribeStream(const std::string& name) = 0;
  // The shard map alone (cheaper than DescribeStream: no figures).
  virtual Result<StreamMeta> ListShards(const std::string& name) = 0;
  virtual Status SetRetention(const std::string& name, int hours) = 0;
  virtual Result<std::unique_ptr<StreamWriter>> OpenWriter(const std::string& name,
                                                           SyncMode sync) = 0;
  virtual Result<std::unique_ptr<ShardCursor>> OpenCursor(const std::string& name,
                                                          uint64_t shard_index,
                                                          const StartPosition& start) = 0;
  // Watch before reading, then Wait after catching up: no change is missed.
  virtual Result<std::unique_ptr<ChangeWatch>> Watch(const std::string& name) = 0;
  // Resharding: closes the parent shard(s) and opens children atomically.
  virtual Status SplitShard(const std::string& name, uint64_t shard_index,
                            uint128 new_starting_hash_key) = 0;
  virtual Status MergeShards(const std::string& name, uint64_t shard_index,
                             uint64_t adjacent_shard_index) = 0;

  // The figures of one shard (DescribeStream computes them for every shard;
  // backends that can do one more cheaply override this).
  virtual Result<ShardStats> GetShardStats(const std::string& name, uint64_t shard_index);
  // Sets the tags in `set` (adding or replacing) and removes those named in
  // `remove`, atomically. Tags are StreamMeta::tags. The default refuses.
  virtual Status UpdateTags(const std::string& name, const std::map<std::string, std::string>& set,
                            const std::vector<std::string>& remove);
  // Changes the stream's registered consumers (StreamMeta::consumers)
  // atomically: `change` sees the current list; if it fails, nothing is
  // written. The default refuses.
  virtual Status UpdateConsumers(const std::string& name,
                                 const std::function<Status(std::vector<ConsumerMeta>&)>& change);
};

}  // namespace kstream
