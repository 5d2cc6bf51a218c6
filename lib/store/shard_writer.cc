#include "store/shard_writer.h"

#include "store/shard_files.h"

#include <algorithm>
#include <cstring>

namespace kstream {
namespace {

void AppendIndexEntry(std::string& out, uint64_t counter, int64_t time_ms, uint64_t offset) {
  char b[24];
  std::memcpy(b, &counter, 8);
  std::memcpy(b + 8, &time_ms, 8);
  std::memcpy(b + 16, &offset, 8);
  out.append(b, sizeof(b));
}

}  // namespace

ShardWriter::ShardWriter(Env* env, std::string dir, SegmentPolicy policy)
    : env_(env), dir_(std::move(dir)), policy_(policy) {}

ShardWriter::~ShardWriter() = default;

Result<std::unique_ptr<ShardWriter>> ShardWriter::Open(Env* env, std::string shard_dir,
                                                       SegmentPolicy policy) {
  auto w = std::unique_ptr<ShardWriter>(new ShardWriter(env, std::move(shard_dir), policy));
  KS_ASSIGN_OR_RETURN(w->lock_, env->OpenLockFile(JoinPath(w->dir_, "lock")));
  return w;
}

Status ShardWriter::OpenSegment(uint64_t first_counter, bool create) {
  const std::string path = JoinPath(dir_, SegmentFileName(first_counter));
  if (create) {
    auto f = env_->OpenAppend(path, /*create=*/true);
    if (f.ok()) {
      header_ = SegmentHeader{first_counter, std::max(env_->NowMillis(), last_time_ms_)};
      KS_RETURN_IF_ERROR((*f)->Append(EncodeSegmentHeader(header_)));
      // The new name must survive a crash before any record in it is reported.
      KS_RETURN_IF_ERROR(env_->SyncDir(dir_));
      active_ = std::move(*f);
      index_.reset();
      known_end_ = kSegmentHeaderSize;
      last_counter_ = first_counter - 1;
      last_type_ = FrameType::kRecord;
      return Status::Ok();
    }
    if (f.status().code() != StatusCode::kIOError || !env_->Exists(path)) return f.status();
    // Another writer created it first (O_EXCL): open theirs.
  }
  KS_ASSIGN_OR_RETURN(active_, env_->OpenAppend(path, /*create=*/false));
  index_.reset();
  header_ = SegmentHeader{first_counter, 0};
  known_end_ = 0;  // unknown: FindEnd checks it
  return Status::Ok();
}

Status ShardWriter::OpenNewestSegment() {
  auto segs = ListSegments(env_, dir_);
  if (!segs.ok()) {
    if (segs.status().code() == StatusCode::kNotFound)
      return Status::NotFound("shard directory " + dir_ + " is gone (was the stream deleted?)");
    return segs.status();
  }
  if (segs->empty()) return OpenSegment(1, /*create=*/true);
  return OpenSegment(segs->back(), /*create=*/false);
}

Status ShardWriter::ScanTail(uint64_t size) {
  // Fast path: the trailing length points at the last frame; if that frame
  // checks out, the file ends cleanly there.
  Frame f;
  KS_ASSIGN_OR_RETURN(bool found, ReadLastFrame(*active_, size, frames_, f));
  if (found && f.counter >= last_counter_) {
    if (header_.first_time_ms == 0) {
      char hdr[kSegmentHeaderSize];
      KS_ASSIGN_OR_RETURN(size_t n, active_->ReadAt(0, sizeof(hdr), hdr));
      KS_ASSIGN_OR_RETURN(header_, DecodeSegmentHeader(std::string_view(hdr, n), active_->path()));
    }
    known_end_ = size;
    last_counter_ = f.counter;
    last_time_ms_ = std::max(last_time_ms_, f.arrival_ms);
    last_type_ = f.type;
    return Status::Ok();
  }
  // Slow path (after a crash, or a short file): read every frame to find the
  // end of the good data, then cut whatever follows it.
  auto reader = SegmentReader::Open(env_, active_->path());
  if (!reader.ok()) {
    if (size >= kSegmentHeaderSize) return reader.status();
    // Crashed while writing the header: the segment holds nothing yet.
    KS_RETURN_IF_ERROR(active_->Truncate(0));
    header_.first_time_ms = std::max(env_->NowMillis(), last_time_ms_);
    KS_RETURN_IF_ERROR(active_->Append(EncodeSegmentHeader(header_)));
    known_end_ = kSegmentHeaderSize;
    last_counter_ = header_.first_counter - 1;
    last_type_ = FrameType::kRecord;
    return Status::Ok();
  }
  header_ = (*reader)->header();
  last_counter_ = header_.first_counter - 1;
  last_time_ms_ = std::max(last_time_ms_, header_.first_time_ms);
  last_type_ = FrameType::kRecord;
  for (;;) {
    KS_ASSIGN_OR_RETURN(auto next, (*reader)->Read(f));
    if (next == SegmentReader::Next::kEndOfData) break;
    last_counter_ = f.counter;
    last_time_ms_ = std::max(last_time_ms_, f.arrival_ms);
    last_type_ = f.type;
  }
  known_end_ = (*reader)->offset();
  if (known_end_ < size) KS_RETURN_IF_ERROR(active_->Truncate(known_end_));
  return Status::Ok();
}

Status ShardWriter::FindEnd() {
  if (!active_) KS_RETURN_IF_ERROR(OpenNewestSegment());
  for (int hops = 0;; ++hops) {
    KS_ASSIGN_OR_RETURN(AppendFile::State st, active_->Stat());
    if (st.unlinked)
      return Status::NotFound("segment " + active_->path() + " was removed (stream deleted?)");
    if (st.size != known_end_ || known_end_ == 0) KS_RETURN_IF_ERROR(ScanTail(st.size));
    if (last_type_ == FrameType::kSeal)
      return Status::FailedPrecondition("shard " + dir_ + " is closed");
    if (last_type_ != FrameType::kRoll) return Status::Ok();
    // Another writer rolled: continue in the next segment, creating it if
    // that writer crashed before it could. Its roll frame must be durable
    // before anything written after it is acknowledged (that writer may
    // have died before its fsync): the next sync covers the old segment too.
    unsynced_previous_.push_back(std::move(active_));
    KS_RETURN_IF_ERROR(OpenSegment(last_counter_ + 1, /*create=*/true));
    if (hops > 1000) return Status::Corruption("shard " + dir_ + ": segment roll loop");
  }
}

Status ShardWriter::Roll() {
  frames_.clear();
  AppendFrame(frames_, FrameType::kRoll, last_counter_, last_time_ms_, std::nullopt, {}, {});
  KS_RETURN_IF_ERROR(active_->Append(frames_));
  frames_.clear();
  // The roll frame leads readers to the next segment: without it on disk, a
  // crash would hide every record acknowledged there. Found by the fault
  // matrix (tests/unit/fault_matrix_test.cc).
  unsynced_previous_.push_back(std::move(active_));
  KS_RETURN_IF_ERROR(OpenSegment(last_counter_ + 1, /*create=*/true));
  TrimShardSegments(env_, dir_, policy_.retention_ms);
  return Status::Ok();
}

Result<ShardWriter::Appended> ShardWriter::Append(std::span<const AppendEntry> entries) {
  LockGuard guard;
  KS_RETURN_IF_ERROR(guard.Acquire(lock_.get()));
  KS_RETURN_IF_ERROR(FindEnd());

  size_t batch_bytes = 0;
  for (const auto& e : entries)
    batch_bytes +=
        FrameSize(e.partition_key.size(), e.data.size(), e.explicit_hash_key.has_value());
  const int64_t now = std::max(env_->NowMillis(), last_time_ms_);
  const bool has_records = known_end_ > kSegmentHeaderSize;
  if (has_records && (known_end_ + batch_bytes > policy_.max_segment_bytes ||
                      now - header_.first_time_ms > policy_.max_segment_age_ms)) {
    KS_RETURN_IF_ERROR(Roll());
  }

  frames_.clear();
  frames_.reserve(batch_bytes);
  index_entries_.clear();
  const uint64_t first = last_counter_ + 1;
  uint64_t offset = known_end_;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const size_t before = frames_.size();
    AppendFrame(frames_, FrameType::kRecord, first + i, now, e.explicit_hash_key, e.partition_key,
                e.data);
    const uint64_t size = frames_.size() - before;
    // One hint per 64 KiB block: for the frame that spans the block's start.
    if ((offset + size - 1) / kIndexBlockBytes != (offset - 1) / kIndexBlockBytes)
      AppendIndexEntry(index_entries_, first + i, now, offset);
    offset += size;
  }
  Status s = active_->Append(frames_);
  if (!s.ok()) {
    known_end_ = 0;  // a partial write may be on disk: rescan next time
    return s;
  }
  known_end_ = offset;
  last_counter_ = first + entries.size() - 1;
  last_time_ms_ = now;
  unsynced_ = true;
  if (!index_entries_.empty()) {
    if (!index_) {
      auto f = env_->OpenAppend(JoinPath(dir_, IndexFileName(header_.first_counter)), false);
      if (!f.ok() && f.status().code() == StatusCode::kNotFound)
        f = env_->OpenAppend(JoinPath(dir_, IndexFileName(header_.first_counter)), true);
      if (f.ok()) index_ = std::move(*f);
    }
    // Hints only: a lost entry costs a longer scan, never a wrong answer.
    if (index_) (void)index_->Append(index_entries_);
  }
  return Appended{first, now};
}

void ShardWriter::CollectUnsynced(std::vector<std::shared_ptr<AppendFile>>& out) {
  for (auto& f : unsynced_previous_) out.push_back(std::move(f));
  unsynced_previous_.clear();
  if (unsynced_ && active_) out.push_back(active_);
  unsynced_ = false;
}

Status ShardWriter::Sync() {
  std::vector<std::shared_ptr<AppendFile>> files;
  CollectUnsynced(files);
  for (auto& f : files) KS_RETURN_IF_ERROR(f->Sync());
  return Status::Ok();
}

Result<uint64_t> ShardWriter::Seal() {
  LockGuard guard;
  KS_RETURN_IF_ERROR(guard.Acquire(lock_.get()));
  Status s = FindEnd();
  if (s.code() == StatusCode::kFailedPrecondition) return last_counter_;  // already sealed
  KS_RETURN_IF_ERROR(s);
  frames_.clear();
  AppendFrame(frames_, FrameType::kSeal, last_counter_, std::max(env_->NowMillis(), last_time_ms_),
              std::nullopt, {}, {});
  KS_RETURN_IF_ERROR(active_->Append(frames_));
  known_end_ += frames_.size();
  last_type_ = FrameType::kSeal;
  unsynced_ = true;
  KS_RETURN_IF_ERROR(Sync());
  return last_counter_;
}

}  // namespace kstream
