#include "store/shard_files.h"

#include <cstring>

#include "store/segment.h"

namespace kstream {

Result<std::vector<uint64_t>> ListSegments(Env* env, const std::string& shard_dir) {
  KS_ASSIGN_OR_RETURN(auto names, env->ListDir(shard_dir));
  std::vector<uint64_t> segs;
  for (const auto& n : names)
    if (auto c = ParseSegmentFileName(n)) segs.push_back(*c);
  return segs;  // ListDir sorts, and the names are zero-padded
}

std::vector<IndexEntry> LoadIndex(Env* env, const std::string& shard_dir, uint64_t first_counter) {
  std::vector<IndexEntry> entries;
  auto bytes = env->ReadWholeFile(JoinPath(shard_dir, IndexFileName(first_counter)));
  if (!bytes.ok()) return entries;
  for (size_t i = 0; i + 24 <= bytes->size(); i += 24) {
    IndexEntry e;
    std::memcpy(&e.counter, bytes->data() + i, 8);
    std::memcpy(&e.arrival_ms, bytes->data() + i + 8, 8);
    std::memcpy(&e.offset, bytes->data() + i + 16, 8);
    if (!entries.empty() &&
        (e.counter <= entries.back().counter || e.offset <= entries.back().offset ||
         e.arrival_ms < entries.back().arrival_ms))
      break;
    entries.push_back(e);
  }
  return entries;
}

void TrimShardSegments(Env* env, const std::string& shard_dir, int64_t retention_ms) {
  auto segs = ListSegments(env, shard_dir);
  if (!segs.ok()) return;
  const int64_t cutoff = env->NowMillis() - retention_ms;
  for (size_t i = 0; i + 1 < segs->size(); ++i) {
    auto next = SegmentReader::Open(env, JoinPath(shard_dir, SegmentFileName((*segs)[i + 1])));
    if (!next.ok() || (*next)->header().first_time_ms >= cutoff) break;
    (void)env->RemoveFile(JoinPath(shard_dir, SegmentFileName((*segs)[i])));
    (void)env->RemoveFile(JoinPath(shard_dir, IndexFileName((*segs)[i])));
  }
}

Result<ShardStats> ComputeShardStats(Env* env, const std::string& shard_dir, uint64_t shard_index) {
  ShardStats st;
  KS_ASSIGN_OR_RETURN(auto segs, ListSegments(env, shard_dir));
  for (uint64_t first : segs) {
    auto f = env->OpenRead(JoinPath(shard_dir, SegmentFileName(first)));
    if (!f.ok()) continue;  // trimmed meanwhile
    KS_ASSIGN_OR_RETURN(uint64_t size, (*f)->Size());
    st.bytes += size;
    st.segments++;
  }
  if (segs.empty()) return st;
  // Counters are contiguous within a shard, so the count is last - first + 1;
  // only the newest segment's end needs reading.
  auto opened = SegmentReader::Open(env, JoinPath(shard_dir, SegmentFileName(segs.back())));
  if (!opened.ok() && opened.status().code() == StatusCode::kFailedPrecondition) {
    // The newest segment is being created: it holds nothing yet.
    if (segs.back() > segs.front()) {
      st.records = segs.back() - segs.front();
      st.first_sequence = MakeSequenceNumber(shard_index, segs.front());
      st.last_sequence = MakeSequenceNumber(shard_index, segs.back() - 1);
    }
    return st;
  }
  if (!opened.ok()) return opened.status();
  auto& reader = *opened;
  uint64_t last = reader->header().first_counter - 1;
  int64_t last_ms = reader->header().first_time_ms;
  {
    auto f = env->OpenRead(reader->path());
    std::string buf;
    Frame frame;
    bool found = false;
    if (f.ok()) {
      KS_ASSIGN_OR_RETURN(uint64_t size, (*f)->Size());
      KS_ASSIGN_OR_RETURN(found, ReadLastFrame(**f, size, buf, frame));
    }
    if (found) {
      last = frame.counter;
      last_ms = frame.arrival_ms;
    } else {
      for (;;) {  // a torn or empty tail: scan
        KS_ASSIGN_OR_RETURN(auto next, reader->Read(frame));
        if (next == SegmentReader::Next::kEndOfData) break;
        last = frame.counter;
        last_ms = frame.arrival_ms;
      }
    }
  }
  const uint64_t first = segs.front();
  if (last >= first) {
    st.records = last - first + 1;
    st.first_sequence = MakeSequenceNumber(shard_index, first);
    st.last_sequence = MakeSequenceNumber(shard_index, last);
    st.last_arrival_ms = last_ms;
  }
  return st;
}

}  // namespace kstream
