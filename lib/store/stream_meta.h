// Stream metadata: the shard map, lineage and retention, kept in
// streams/<name>/stream.json and replaced atomically on every change.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash_key.h"
#include "core/sequence_number.h"
#include "core/status.h"

namespace kstream {

inline constexpr int kMinRetentionHours = 24;
inline constexpr int kMaxRetentionHours = 8760;

struct ShardMeta {
  uint64_t index = 0;
  uint128 start_hash = 0;
  uint128 end_hash = kMaxHashKey;
  std::optional<uint64_t> parent;
  std::optional<uint64_t> adjacent_parent;
  int64_t created_ms = 0;
  std::optional<int64_t> closed_ms;        // set when resharding closed it
  std::optional<uint64_t> ending_counter;  // the last counter, once closed
  // The numbers a remote endpoint reported (its own layout); the local store
  // leaves them unset and derives both from index and counters.
  std::optional<SequenceNumber> reported_start, reported_end;

  bool is_open() const { return !closed_ms.has_value(); }
  std::string id() const;
  SequenceNumber starting_sequence() const {
    return reported_start.value_or(MakeSequenceNumber(index, 0));
  }
  // Set once the shard is closed.
  std::optional<SequenceNumber> ending_sequence() const {
    if (reported_end) return reported_end;
    if (ending_counter) return SequenceNumber(MakeSequenceNumber(index, *ending_counter));
    return std::nullopt;
  }
};

// One resharding step: parents to close, children to open. It is recorded in
// the metadata before any parent is sealed, so whoever finds it after a crash
// can finish it (roll forward): a seal is never undone.
struct PendingReshard {
  std::vector<uint64_t> close;
  std::vector<ShardMeta> open;
};

// A registered enhanced fan-out consumer (RegisterStreamConsumer). Kept in
// the stream's metadata, so it is written atomically with it and goes with
// the stream. A deregistered one stays DELETING for a moment (deleting_ms)
// before it is dropped, as the service shows it.
struct ConsumerMeta {
  std::string name;
  int64_t created_ms = 0;
  std::optional<int64_t> deleting_ms;
};

struct StreamMeta {
  std::string name;
  int64_t created_ms = 0;
  int retention_hours = 24;
  uint64_t next_shard_index = 0;
  std::vector<ShardMeta> shards;  // in index order
  std::optional<PendingReshard> pending;
  std::map<std::string, std::string> tags;  // AddTagsToStream & co. (kstream-serve)
  std::vector<ConsumerMeta> consumers;      // RegisterStreamConsumer & co., by name

  const ShardMeta* FindShard(uint64_t index) const;
  ShardMeta* FindShard(uint64_t index);
  std::vector<const ShardMeta*> OpenShards() const;  // by starting hash key
  // The open shard whose range holds hash_key.
  const ShardMeta* OpenShardFor(uint128 hash_key) const;
  int64_t retention_ms() const { return int64_t(retention_hours) * 3600 * 1000; }
};

// The closed shards whose close time is older than now - retention: every
// record they hold has passed retention, so (as in Kinesis, where such
// shards stop being listed) they leave the stream.
std::vector<uint64_t> ExpiredShards(const StreamMeta& meta, int64_t now);
// Drops the given shards from meta.shards. Children keep their parent ids, as
// Kinesis keeps ParentShardId of a shard whose parent expired.
void RemoveShards(StreamMeta& meta, const std::vector<uint64_t>& indexes);
// The kNotFound for a shard absent from meta: one that existed and expired
// (an index below next_shard_index), or one that never existed.
Status ShardNotFound(const StreamMeta& meta, uint64_t index);

// Plans (and checks) a split of `shard` at new_starting_hash_key, or a merge
// of two adjacent open shards, with children numbered from next_shard_index.
Result<PendingReshard> PlanSplit(const StreamMeta& meta, uint64_t shard, uint128 at, int64_t now);
Result<PendingReshard> PlanMerge(const StreamMeta& meta, uint64_t shard, uint64_t adjacent,
                                 int64_t now);
// Applies a planned step to the shard map: parents closed at `now` with the
// given ending counters (one per parent, in plan order), children added.
void ApplyReshard(StreamMeta& meta, const PendingReshard& step,
                  const std::vector<uint64_t>& ending_counters, int64_t now);

// N shards with even ranges: step = floor(2^128 / N), the last ends at 2^128-1
// (the split AWS itself produces).
std::vector<ShardMeta> UniformShards(int count, uint64_t first_index, int64_t created_ms);

// Checks that the open shards tile 0 .. 2^128-1 with no gap and no overlap.
Status CheckOpenShardsTile(const StreamMeta& meta);

std::string EncodeStreamMeta(const StreamMeta& meta);
Result<StreamMeta> DecodeStreamMeta(std::string_view json, const std::string& path);

}  // namespace kstream
