#include "store/local_store.h"

#include <unistd.h>

#include <cstdlib>
#include <functional>

#include "core/text.h"
#include "store/local_internal.h"
#include "store/shard_files.h"

namespace kstream {

std::string DefaultStoreRoot() {
  if (const char* home = std::getenv("KSTREAM_HOME"); home && *home) return home;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return JoinPath(xdg, "kstream");
  const char* home = std::getenv("HOME");
  return JoinPath(JoinPath(home && *home ? home : ".", ".local/share"), "kstream");
}

Result<SyncMode> ParseSyncMode(std::string_view t) {
  if (t == "always") return SyncMode::kAlways;
  if (t == "batch") return SyncMode::kBatch;
  if (t == "never") return SyncMode::kNever;
  return Status::InvalidArgument("invalid sync mode '" + std::string(t) +
                                 "' (use always, batch or never)");
}

Result<IteratorType> ParseIteratorType(std::string_view t) {
  for (auto type :
       {IteratorType::kTrimHorizon, IteratorType::kLatest, IteratorType::kAtSequenceNumber,
        IteratorType::kAfterSequenceNumber, IteratorType::kAtTimestamp})
    if (t == IteratorTypeName(type)) return type;
  return Status::InvalidArgument(
      "invalid iterator type '" + std::string(t) +
      "' (use TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER or AT_TIMESTAMP)");
}

std::string_view IteratorTypeName(IteratorType t) {
  switch (t) {
    case IteratorType::kTrimHorizon:
      return "TRIM_HORIZON";
    case IteratorType::kLatest:
      return "LATEST";
    case IteratorType::kAtSequenceNumber:
      return "AT_SEQUENCE_NUMBER";
    case IteratorType::kAfterSequenceNumber:
      return "AFTER_SEQUENCE_NUMBER";
    case IteratorType::kAtTimestamp:
      return "AT_TIMESTAMP";
  }
  return "?";
}

std::string LocalStore::StreamDir(const std::string& name) const {
  return JoinPath(JoinPath(root_, "streams"), name);
}

std::string LocalStore::ShardDir(const std::string& name, uint64_t shard_index) const {
  return JoinPath(JoinPath(StreamDir(name), "shards"), ShardIdFor(shard_index));
}

SegmentPolicy LocalStore::PolicyFor(const StreamMeta& meta) const {
  SegmentPolicy p;
  p.max_segment_bytes = max_segment_bytes_;
  p.retention_ms = meta.retention_ms();
  return p;
}

Result<StreamMeta> LocalStore::ReadMeta(const std::string& name) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  const std::string path = JoinPath(StreamDir(name), "stream.json");
  auto text = env_->ReadWholeFile(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound)
      return Status::NotFound("stream '" + name +
                              "' does not exist (create it with: kstream create " + name + ")");
    return text.status();
  }
  return DecodeStreamMeta(*text, path);
}

Status LocalStore::CreateStream(const std::string& name, int shard_count, int retention_hours) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  if (shard_count < 1 || shard_count > 10000)
    return Status::InvalidArgument("shard count must be between 1 and 10000");
  if (retention_hours < kMinRetentionHours || retention_hours > kMaxRetentionHours)
    return Status::InvalidArgument("retention must be between 24 and 8760 hours");
  const std::string streams = JoinPath(root_, "streams");
  KS_RETURN_IF_ERROR(env_->CreateDir(streams));
  if (env_->Exists(StreamDir(name)))
    return Status::AlreadyExists("stream '" + name + "' already exists");

  // Build the stream in a hidden directory, then rename it into place: a
  // crash never leaves a half-created stream under its real name.
  const std::string tmp = JoinPath(streams, "~creating-" + name + "-" + std::to_string(getpid()));
  (void)env_->RemoveTree(tmp);
  StreamMeta meta;
  meta.name = name;
  meta.created_ms = env_->NowMillis();
  meta.retention_hours = retention_hours;
  meta.shards = UniformShards(shard_count, 0, meta.created_ms);
  meta.next_shard_index = uint64_t(shard_count);
  Status s = env_->CreateDir(JoinPath(tmp, "shards"));
  for (const auto& shard : meta.shards) {
    if (!s.ok()) break;
    s = env_->CreateDir(JoinPath(JoinPath(tmp, "shards"), shard.id()));
  }
  if (s.ok()) s = env_->WriteFileAtomic(JoinPath(tmp, "stream.json"), EncodeStreamMeta(meta));
  if (s.ok()) s = env_->SyncDir(JoinPath(tmp, "shards"));
  if (s.ok()) {
    s = env_->Rename(tmp, StreamDir(name));
    if (!s.ok() && env_->Exists(StreamDir(name)))
      s = Status::AlreadyExists("stream '" + name + "' already exists");
  }
  if (s.ok()) return env_->SyncDir(streams);
  (void)env_->RemoveTree(tmp);
  return s;
}

Status LocalStore::DeleteStream(const std::string& name) {
  KS_RETURN_IF_ERROR(ReadMeta(name).status());
  // Rename first so the stream disappears at once for everyone; writers that
  // still hold its files see them unlinked and stop with an error.
  const std::string doomed =
      JoinPath(JoinPath(root_, "streams"), "~deleting-" + name + "-" + std::to_string(getpid()));
  KS_RETURN_IF_ERROR(env_->Rename(StreamDir(name), doomed));
  KS_RETURN_IF_ERROR(env_->SyncDir(JoinPath(root_, "streams")));
  return env_->RemoveTree(doomed);
}

Result<std::vector<std::string>> LocalStore::ListStreams() {
  auto names = env_->ListDir(JoinPath(root_, "streams"));
  if (!names.ok()) {
    if (names.status().code() == StatusCode::kNotFound) return std::vector<std::string>{};
    return names.status();
  }
  std::vector<std::string> out;
  for (auto& n : *names)
    // Work directories ("~creating-...") are not valid names, so never listed.
    if (ValidateStreamName(n).ok() && env_->Exists(JoinPath(StreamDir(n), "stream.json")))
      out.push_back(std::move(n));
  return out;
}

Result<StreamDescription> LocalStore::DescribeStream(const std::string& name) {
  StreamDescription d;
  KS_ASSIGN_OR_RETURN(d.meta, ReadMetaFinished(name));
  std::vector<uint64_t> gone;
  for (const auto& shard : d.meta.shards) {
    auto st = ComputeShardStats(env_, ShardDir(name, shard.index), shard.index);
    // A closed shard whose directory is gone expired after the map was read.
    if (!st.ok() && st.status().code() == StatusCode::kNotFound && !shard.is_open()) {
      gone.push_back(shard.index);
      continue;
    }
    if (!st.ok()) return st.status();
    d.stats.push_back(*st);
  }
  RemoveShards(d.meta, gone);
  return d;
}

Status LocalStore::WriteMeta(const StreamMeta& meta) {
  return env_->WriteFileAtomic(JoinPath(StreamDir(meta.name), "stream.json"),
                               EncodeStreamMeta(meta));
}

Result<std::unique_ptr<LockFile>> LocalStore::LockStream(const std::string& name) {
  KS_ASSIGN_OR_RETURN(auto lock, env_->OpenLockFile(JoinPath(StreamDir(name), "stream.lock")));
  KS_RETURN_IF_ERROR(lock->Lock());
  return lock;
}

Status LocalStore::ModifyMeta(const std::string& name,
                              const std::function<Status(StreamMeta&)>& change) {
  KS_RETURN_IF_ERROR(ReadMeta(name).status());  // a clear error for a missing stream
  KS_ASSIGN_OR_RETURN(auto lock, LockStream(name));
  KS_ASSIGN_OR_RETURN(StreamMeta meta, ReadMetaLocked(name));
  KS_RETURN_IF_ERROR(change(meta));
  KS_RETURN_IF_ERROR(CheckOpenShardsTile(meta));
  return WriteMeta(meta);
}

Status LocalStore::FinishPendingReshard(StreamMeta& meta) {
  const PendingReshard step = *meta.pending;
  for (const auto& child : step.open)
    KS_RETURN_IF_ERROR(env_->CreateDir(ShardDir(meta.name, child.index)));
  KS_RETURN_IF_ERROR(env_->SyncDir(JoinPath(StreamDir(meta.name), "shards")));
  std::vector<uint64_t> endings;
  for (uint64_t parent : step.close) {
    KS_ASSIGN_OR_RETURN(auto writer,
                        ShardWriter::Open(env_, ShardDir(meta.name, parent), PolicyFor(meta)));
    KS_ASSIGN_OR_RETURN(uint64_t ending, writer->Seal());  // idempotent
    endings.push_back(ending);
  }
  ApplyReshard(meta, step, endings, env_->NowMillis());
  meta.pending.reset();
  KS_RETURN_IF_ERROR(CheckOpenShardsTile(meta));
  return WriteMeta(meta);
}

Status LocalStore::Reshard(const std::string& name,
                           const std::function<Result<PendingReshard>(const StreamMeta&)>& plan) {
  // Three steps, each atomic: record the intent, seal the parents (writers
  // that hit a seal reload the map), record the result. A crash after the
  // first is finished by the next process that reads the metadata.
  KS_RETURN_IF_ERROR(ReadMeta(name).status());  // a clear error for a missing stream
  KS_ASSIGN_OR_RETURN(auto lock, LockStream(name));
  KS_ASSIGN_OR_RETURN(StreamMeta meta, ReadMetaLocked(name));
  KS_ASSIGN_OR_RETURN(PendingReshard step, plan(meta));
  for (const auto& child : step.open)
    meta.next_shard_index = std::max(meta.next_shard_index, child.index + 1);
  meta.pending = std::move(step);
  KS_RETURN_IF_ERROR(WriteMeta(meta));
  return FinishPendingReshard(meta);
}

Result<StreamMeta> LocalStore::ReadMetaFinished(const std::string& name) {
  KS_ASSIGN_OR_RETURN(StreamMeta meta, ReadMeta(name));
  if (meta.pending) {
    KS_ASSIGN_OR_RETURN(auto lock, LockStream(name));
    return ReadMetaLocked(name);  // the resharder may have finished meanwhile
  }
  const std::vector<uint64_t> expired = ExpiredShards(meta, env_->NowMillis());
  if (expired.empty()) return meta;
  auto lock = LockStream(name);
  if (lock.ok()) {
    auto done = ReadMetaLocked(name);  // another process may have done it meanwhile
    if (done.ok()) return done;
  }
  // A reader that may not change the store (no write access, a full disk)
  // still sees the stream without the expired shards.
  RemoveShards(meta, expired);
  return meta;
}

Result<StreamMeta> LocalStore::ReadMetaLocked(const std::string& name) {
  KS_ASSIGN_OR_RETURN(StreamMeta meta, ReadMeta(name));
  if (meta.pending) KS_RETURN_IF_ERROR(FinishPendingReshard(meta));
  KS_RETURN_IF_ERROR(RemoveExpiredShards(meta));
  return meta;
}

Status LocalStore::RemoveExpiredShards(StreamMeta& meta) {
  const std::vector<uint64_t> expired = ExpiredShards(meta, env_->NowMillis());
  if (expired.empty()) return Status::Ok();
  // The map first, the files after: a crash in between leaves directories
  // nothing names (removed by the next sweep), never a shard without files.
  RemoveShards(meta, expired);
  KS_RETURN_IF_ERROR(WriteMeta(meta));
  SweepShardDirs(meta);
  return Status::Ok();
}

void LocalStore::SweepShardDirs(const StreamMeta& meta) {
  const std::string shards = JoinPath(StreamDir(meta.name), "shards");
  auto names = env_->ListDir(shards);
  if (!names.ok()) return;
  auto named = [&](uint64_t index) {
    if (meta.FindShard(index)) return true;
    if (!meta.pending) return false;
    for (const auto& child : meta.pending->open)
      if (child.index == index) return true;
    return false;
  };
  bool removed = false;
  for (const auto& n : *names) {
    auto index = ParseShardId(n);
    // Indexes are never reused and a reshard names its children (with
    // indexes from next_shard_index up) before making their directories, so
    // a directory below next_shard_index that the map does not name is one
    // whose shard expired: no lock is needed to tell.
    if (!index.ok() || *index >= meta.next_shard_index || named(*index)) continue;
    if (env_->RemoveTree(JoinPath(shards, n)).ok()) removed = true;
  }
  if (removed) (void)env_->SyncDir(shards);
}

Result<StreamMeta> LocalStore::ListShards(const std::string& name) {
  return ReadMetaFinished(name);
}

Result<ShardStats> LocalStore::GetShardStats(const std::string& name, uint64_t shard_index) {
  KS_ASSIGN_OR_RETURN(StreamMeta meta, ReadMeta(name));
  if (!meta.FindShard(shard_index)) return ShardNotFound(meta, shard_index);
  return ComputeShardStats(env_, ShardDir(name, shard_index), shard_index);
}

Status LocalStore::UpdateTags(const std::string& name,
                              const std::map<std::string, std::string>& set,
                              const std::vector<std::string>& remove) {
  return ModifyMeta(name, [&](StreamMeta& m) {
    for (const auto& key : remove) m.tags.erase(key);
    for (const auto& [key, value] : set) m.tags[key] = value;
    return Status::Ok();
  });
}

Status LocalStore::UpdateConsumers(
    const std::string& name, const std::function<Status(std::vector<ConsumerMeta>&)>& change) {
  return ModifyMeta(name, [&](StreamMeta& m) { return change(m.consumers); });
}

Status LocalStore::SetRetention(const std::string& name, int hours) {
  if (hours < kMinRetentionHours || hours > kMaxRetentionHours)
    return Status::InvalidArgument("retention must be between 24 and 8760 hours");
  KS_RETURN_IF_ERROR(ModifyMeta(name, [&](StreamMeta& m) {
    m.retention_hours = hours;
    return Status::Ok();
  }));
  return TrimStream(name);
}

Status LocalStore::TrimStream(const std::string& name) {
  KS_ASSIGN_OR_RETURN(StreamMeta meta, ReadMetaFinished(name));  // expires closed shards
  for (const auto& shard : meta.shards)
    TrimShardSegments(env_, ShardDir(name, shard.index), meta.retention_ms());
  SweepShardDirs(meta);
  return Status::Ok();
}

Status LocalStore::SplitShard(const std::string& name, uint64_t shard_index, uint128 at) {
  return Reshard(
      name, [&](const StreamMeta& m) { return PlanSplit(m, shard_index, at, env_->NowMillis()); });
}

Status LocalStore::MergeShards(const std::string& name, uint64_t a_index, uint64_t b_index) {
  return Reshard(
      name, [&](const StreamMeta& m) { return PlanMerge(m, a_index, b_index, env_->NowMillis()); });
}

Result<std::unique_ptr<StreamWriter>> LocalStore::OpenWriter(const std::string& name,
                                                             SyncMode sync) {
  // Reading the map expires closed shards past retention; writers also roll
  // and trim as they go; this covers streams idle since.
  KS_ASSIGN_OR_RETURN(StreamMeta meta, ReadMetaFinished(name));
  for (const auto& shard : meta.shards)
    TrimShardSegments(env_, ShardDir(name, shard.index), meta.retention_ms());
  SweepShardDirs(meta);
  return NewLocalStreamWriter(this, name, std::move(meta), sync);
}

Result<std::unique_ptr<ShardCursor>> LocalStore::OpenCursor(const std::string& name,
                                                            uint64_t shard_index,
                                                            const StartPosition& start) {
  KS_ASSIGN_OR_RETURN(StreamMeta meta, ReadMeta(name));
  if (!meta.FindShard(shard_index)) return ShardNotFound(meta, shard_index);
  return NewLocalShardCursor(env_, ShardDir(name, shard_index), shard_index, start);
}

Result<std::unique_ptr<ChangeWatch>> LocalStore::Watch(const std::string& name) {
  KS_RETURN_IF_ERROR(ReadMeta(name).status());
  return NewInotifyWatch(StreamDir(name));
}

}  // namespace kstream
