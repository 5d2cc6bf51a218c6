// LocalStore: the embedded, file-backed store (see FORMAT.md), implementing
// Backend. Safe to use from many processes at once: metadata changes hold the
// stream lock, appends hold the shard lock, readers hold nothing.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/env.h"
#include "store/backend.h"
#include "store/shard_writer.h"

namespace kstream {

// $KSTREAM_HOME, else $XDG_DATA_HOME/kstream, else ~/.local/share/kstream.
std::string DefaultStoreRoot();

class LocalStore final : public Backend {
 public:
  LocalStore(Env* env, std::string root) : env_(env), root_(std::move(root)) {}

  Status CreateStream(const std::string& name, int shard_count, int retention_hours) override;
  Status DeleteStream(const std::string& name) override;
  Result<std::vector<std::string>> ListStreams() override;
  Result<StreamDescription> DescribeStream(const std::string& name) override;
  Status SetRetention(const std::string& name, int hours) override;
  Result<std::unique_ptr<StreamWriter>> OpenWriter(const std::string& name, SyncMode sync) override;
  Result<std::unique_ptr<ShardCursor>> OpenCursor(const std::string& name, uint64_t shard_index,
                                                  const StartPosition& start) override;
  Result<std::unique_ptr<ChangeWatch>> Watch(const std::string& name) override;
  Status SplitShard(const std::string& name, uint64_t shard_index,
                    uint128 new_starting_hash_key) override;
  Status MergeShards(const std::string& name, uint64_t shard_index,
                     uint64_t adjacent_shard_index) override;
  Result<StreamMeta> ListShards(const std::string& name) override;
  Result<ShardStats> GetShardStats(const std::string& name, uint64_t shard_index) override;
  Status UpdateTags(const std::string& name, const std::map<std::string, std::string>& set,
                    const std::vector<std::string>& remove) override;
  Status UpdateConsumers(const std::string& name,
                         const std::function<Status(std::vector<ConsumerMeta>&)>& change) override;

  // Removes segments that fell out of retention in every shard of the
  // stream, and the closed shards whose close time did (see ExpiredShards).
  Status TrimStream(const std::string& name);

  // For the writer and tests.
  Env* env() const { return env_; }
  const std::string& root() const { return root_; }
  std::string StreamDir(const std::string& name) const;
  std::string ShardDir(const std::string& name, uint64_t shard_index) const;
  // The metadata as stored (possibly with a reshard in progress).
  Result<StreamMeta> ReadMeta(const std::string& name);
  // The metadata with any interrupted reshard finished first and the closed
  // shards past retention removed (both under the stream lock, only when
  // there is work: a plain read otherwise).
  Result<StreamMeta> ReadMetaFinished(const std::string& name);
  SegmentPolicy PolicyFor(const StreamMeta& meta) const;
  // Segment size limit; tests lower it to exercise rolling.
  void set_max_segment_bytes(uint64_t bytes) { max_segment_bytes_ = bytes; }

 private:
  // Changes the metadata under the stream lock (finishing a pending reshard first).
  Status ModifyMeta(const std::string& name, const std::function<Status(StreamMeta&)>& change);
  Status Reshard(const std::string& name,
                 const std::function<Result<PendingReshard>(const StreamMeta&)>& plan);
  // With the stream lock held: seals meta.pending's parents, records the result.
  Status FinishPendingReshard(StreamMeta& meta);
  Status WriteMeta(const StreamMeta& meta);
  // With the stream lock held: the metadata, a pending reshard finished,
  // expired shards removed.
  Result<StreamMeta> ReadMetaLocked(const std::string& name);
  // With the stream lock held: drops the closed shards past retention from
  // the map, writes it, then deletes their directories.
  Status RemoveExpiredShards(StreamMeta& meta);
  // Deletes shard directories the map no longer names (left by a crash
  // between writing the map and deleting them). Best effort; no lock needed.
  void SweepShardDirs(const StreamMeta& meta);
  Result<std::unique_ptr<LockFile>> LockStream(const std::string& name);

  Env* env_;
  std::string root_;
  uint64_t max_segment_bytes_ = 64ull << 20;
};

}  // namespace kstream
