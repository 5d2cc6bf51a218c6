// LocalShardCursor: reads one shard's segments in order from a start
// position found through segment names, headers and index hints.
#include <algorithm>

#include "core/clock.h"
#include "core/text.h"
#include "store/local_internal.h"
#include "store/segment.h"
#include "store/shard_files.h"

namespace kstream {
namespace {

class LocalShardCursor final : public ShardCursor {
 public:
  LocalShardCursor(Env* env, std::string dir, uint64_t shard_index)
      : env_(env), dir_(std::move(dir)), shard_index_(shard_index) {}

  Status Position(const StartPosition& start) {
    // Checked before looking at the data, so an empty shard behaves the same.
    if ((start.type == IteratorType::kAtSequenceNumber ||
         start.type == IteratorType::kAfterSequenceNumber) &&
        (!start.sequence.fits_128() || SequenceShardIndex(start.sequence) != shard_index_))
      return Status::InvalidArgument("sequence number " + ToDecimal(start.sequence) +
                                     " does not belong to " + ShardIdFor(shard_index_));
    if (start.type == IteratorType::kAtTimestamp) min_time_ms_ = start.timestamp_ms;
    KS_ASSIGN_OR_RETURN(auto segs, Segments());
    if (ended_) return Status::Ok();
    if (segs.empty()) {
      // No segment yet: start at the first record the shard will get.
      next_segment_ = 1;
      return Status::Ok();
    }
    switch (start.type) {
      case IteratorType::kTrimHorizon:
        return OpenAt(segs, 0);
      case IteratorType::kLatest:
        return PositionAtEnd(segs);
      case IteratorType::kAtSequenceNumber:
      case IteratorType::kAfterSequenceNumber: {
        const uint64_t c = *SequenceCounter(start.sequence);  // checked above
        const bool at = start.type == IteratorType::kAtSequenceNumber;
        if (c == 0 || c < segs.front()) return OpenAt(segs, 0);  // before the trim horizon
        skip_through_ = at ? c - 1 : c;
        return PositionAtCounter(segs, skip_through_ + 1);
      }
      case IteratorType::kAtTimestamp:
        return PositionAtTime(segs, start.timestamp_ms);
    }
    return Status::Ok();
  }

  Result<State> Read(RecordBatch& batch, size_t max_records, size_t max_bytes) override {
    if (ended_) return State::kShardEnd;
    if (!reader_) {
      KS_ASSIGN_OR_RETURN(bool opened, OpenNextSegment());
      if (!opened) return Waiting();
    }
    const size_t start_count = batch.size();
    const size_t start_bytes = batch.bytes();
    Frame f;
    for (;;) {
      if (batch.size() - start_count >= max_records || batch.bytes() - start_bytes >= max_bytes)
        return State::kMore;
      KS_ASSIGN_OR_RETURN(auto next, reader_->Read(f));
      if (next == SegmentReader::Next::kFrame) {
        if (f.type == FrameType::kRecord) {
          if (f.counter <= skip_through_) continue;
          if (min_time_ms_ && f.arrival_ms < *min_time_ms_) continue;
          min_time_ms_.reset();  // times never decrease within a shard
          batch.AddView(MakeSequenceNumber(shard_index_, f.counter), f.arrival_ms,
                        f.explicit_hash_key, f.partition_key, f.data, reader_->frame_holder());
          continue;
        }
        if (f.type == FrameType::kSeal) {
          ended_ = true;
          return State::kShardEnd;
        }
        // A roll frame: the next segment starts after this counter.
        next_segment_ = f.counter + 1;
        KS_RETURN_IF_ERROR(CloseSegment());
        KS_ASSIGN_OR_RETURN(bool opened, OpenNextSegment());
        if (!opened) return Waiting();
        continue;
      }
      // End of the data for now. If a newer segment exists this one is
      // finished though its roll frame was lost (a power failure between the
      // roll and the next sync): move on. Rolls normally announce themselves
      // with a roll frame, so this costly check runs at most once a second.
      const int64_t now = SteadyMillis();
      if (now - last_listing_ms_ < 1000) return State::kCaughtUp;
      last_listing_ms_ = now;
      KS_ASSIGN_OR_RETURN(auto segs, Segments());
      auto newer = std::upper_bound(segs.begin(), segs.end(), current_first_);
      if (newer == segs.end()) return Waiting();
      KS_ASSIGN_OR_RETURN(next, reader_->Read(f));
      if (next == SegmentReader::Next::kFrame) {
        reader_->Seek(f.offset, f.counter - (f.type == FrameType::kRecord ? 1 : 0));
        continue;  // more landed after all: read it normally
      }
      next_segment_ = *newer;
      KS_RETURN_IF_ERROR(CloseSegment());
      KS_ASSIGN_OR_RETURN(bool opened, OpenNextSegment());
      if (!opened) return Waiting();
    }
  }

  uint64_t shard_index() const override { return shard_index_; }
  uint64_t corrupt_records() const override {
    return corrupt_closed_ + (reader_ ? reader_->corrupt_frames() : 0);
  }

 private:
  // Nothing to read now: the end of the shard if it expired meanwhile.
  State Waiting() const { return ended_ ? State::kShardEnd : State::kCaughtUp; }

  // The shard's segments. When its directory is gone but its stream is not,
  // the shard expired (closed longer than retention, see ExpiredShards):
  // whatever it still held has passed retention, so the cursor is at its
  // end (ended_) and the list is empty.
  Result<std::vector<uint64_t>> Segments() {
    auto segs = ListSegments(env_, dir_);
    if (segs.ok() || segs.status().code() != StatusCode::kNotFound) return segs;
    const std::string shards = dir_.substr(0, dir_.rfind('/'));
    const std::string stream = shards.substr(0, shards.rfind('/'));
    if (env_->Exists(dir_) || !env_->Exists(JoinPath(stream, "stream.json"))) return segs;
    ended_ = true;
    (void)CloseSegment();
    return std::vector<uint64_t>{};
  }

  Status CloseSegment() {
    if (reader_) corrupt_closed_ += reader_->corrupt_frames();
    reader_.reset();
    return Status::Ok();
  }

  // Opens the segment starting at next_segment_, or the oldest one after it
  // when that one is gone (trimmed by retention). False if none exists yet.
  Result<bool> OpenNextSegment() {
    auto r = SegmentReader::Open(env_, JoinPath(dir_, SegmentFileName(next_segment_)));
    if (r.ok()) {
      reader_ = std::move(*r);
      current_first_ = next_segment_;
      return true;
    }
    if (r.status().code() == StatusCode::kFailedPrecondition) return false;  // header coming
    if (r.status().code() != StatusCode::kNotFound) return r.status();
    KS_ASSIGN_OR_RETURN(auto segs, Segments());
    auto it = std::lower_bound(segs.begin(), segs.end(), next_segment_);
    if (it == segs.end()) return false;
    next_segment_ = *it;
    r = SegmentReader::Open(env_, JoinPath(dir_, SegmentFileName(*it)));
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kFailedPrecondition) return false;
      return r.status();
    }
    reader_ = std::move(*r);
    current_first_ = *it;
    return true;
  }

  Status OpenAt(const std::vector<uint64_t>& segs, size_t i) {
    next_segment_ = segs[i];
    KS_ASSIGN_OR_RETURN(bool opened, OpenNextSegment());
    (void)opened;
    return Status::Ok();
  }

  // Positions before the first record whose counter is >= counter.
  Status PositionAtCounter(const std::vector<uint64_t>& segs, uint64_t counter) {
    size_t i = size_t(std::upper_bound(segs.begin(), segs.end(), counter) - segs.begin());
    KS_RETURN_IF_ERROR(OpenAt(segs, i == 0 ? 0 : i - 1));
    if (!reader_) return Status::Ok();
    auto index = LoadIndex(env_, dir_, current_first_);
    auto it = std::upper_bound(index.begin(), index.end(), counter,
                               [](uint64_t c, const IndexEntry& e) { return c < e.counter; });
    if (it != index.begin()) KS_RETURN_IF_ERROR(SeekHint(index, size_t(it - index.begin()) - 1));
    return Status::Ok();
  }

  Status PositionAtTime(const std::vector<uint64_t>& segs, int64_t t) {
    // The last segment whose first record is strictly earlier than t: records
    // at exactly t may end the segment before.
    size_t lo = 0, hi = segs.size();
    while (hi - lo > 1) {
      const size_t mid = (lo + hi) / 2;
      auto r = SegmentReader::Open(env_, JoinPath(dir_, SegmentFileName(segs[mid])));
      if (!r.ok() && r.status().code() != StatusCode::kFailedPrecondition) return r.status();
      if (r.ok() && (*r)->header().first_time_ms < t)
        lo = mid;
      else
        hi = mid;
    }
    KS_RETURN_IF_ERROR(OpenAt(segs, lo));
    if (!reader_) return Status::Ok();
    auto index = LoadIndex(env_, dir_, current_first_);
    auto it = std::lower_bound(index.begin(), index.end(), t,
                               [](const IndexEntry& e, int64_t v) { return e.arrival_ms < v; });
    if (it != index.begin()) KS_RETURN_IF_ERROR(SeekHint(index, size_t(it - index.begin()) - 1));
    return Status::Ok();
  }

  Status PositionAtEnd(const std::vector<uint64_t>& segs) {
    KS_RETURN_IF_ERROR(OpenAt(segs, segs.size() - 1));
    if (!reader_) return Status::Ok();
    auto index = LoadIndex(env_, dir_, current_first_);
    if (!index.empty()) KS_RETURN_IF_ERROR(SeekHint(index, index.size() - 1));
    // Skip every record present now.
    Frame f;
    skip_through_ = reader_->last_counter();
    for (;;) {
      const uint64_t before = reader_->offset();
      KS_ASSIGN_OR_RETURN(auto next, reader_->Read(f));
      if (next == SegmentReader::Next::kEndOfData) break;
      if (f.type != FrameType::kRecord) {
        reader_->Seek(before, f.counter);  // leave the roll or seal frame to Read
        break;
      }
      skip_through_ = f.counter;
    }
    return Status::Ok();
  }

  // Uses index[i], falling back to earlier entries (then the segment start)
  // when a hint does not match the data.
  Status SeekHint(const std::vector<IndexEntry>& index, size_t i) {
    for (size_t k = i + 1; k-- > 0;) {
      KS_ASSIGN_OR_RETURN(
          bool ok, reader_->SeekToHint(index[k].offset, index[k].counter, index[k].arrival_ms));
      if (ok) return Status::Ok();
    }
    return Status::Ok();
  }

  Env* env_;
  std::string dir_;
  uint64_t shard_index_;
  std::unique_ptr<SegmentReader> reader_;
  uint64_t current_first_ = 0;  // first counter of reader_'s segment
  uint64_t next_segment_ = 1;   // segment to open when reader_ is empty
  uint64_t skip_through_ = 0;   // records with counters up to this are skipped
  std::optional<int64_t> min_time_ms_;
  bool ended_ = false;
  uint64_t corrupt_closed_ = 0;
  int64_t last_listing_ms_ = -1000000;
};

}  // namespace

Result<std::unique_ptr<ShardCursor>> NewLocalShardCursor(Env* env, std::string shard_dir,
                                                         uint64_t shard_index,
                                                         const StartPosition& start) {
  auto c = std::make_unique<LocalShardCursor>(env, std::move(shard_dir), shard_index);
  KS_RETURN_IF_ERROR(c->Position(start));
  return std::unique_ptr<ShardCursor>(std::move(c));
}

}  // namespace kstream
