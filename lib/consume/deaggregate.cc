#include "consume/deaggregate.h"

#include <utility>

namespace kstream {
namespace {

bool AnyMagic(const RecordBatch& batch) {
  for (size_t i = 0; i < batch.size(); ++i)
    if (kpl::HasMagic(batch.data(i))) return true;
  return false;
}

}  // namespace

DeaggregatingCursor::DeaggregatingCursor(std::unique_ptr<ShardCursor> inner,
                                         const StartPosition& start, uint64_t* malformed,
                                         bool whole_records)
    : inner_(std::move(inner)), malformed_(malformed), whole_records_(whole_records) {
  if (start.type == IteratorType::kAtSequenceNumber && start.after_sub_sequence)
    skip_.emplace(start.sequence, *start.after_sub_sequence);
}

bool DeaggregatingCursor::AddNext(RecordBatch& batch) {
  for (;;) {
    if (next_user_ < decoder_.records().size()) {
      const kpl::UserRecord& u = decoder_.records()[next_user_];
      batch.Add(outer_.sequence, outer_.arrival_ms, u.explicit_hash_key, u.partition_key, u.data,
                uint32_t(next_user_));
      ++next_user_;
      return true;
    }
    if (next_raw_ >= raw_.size()) return false;
    const RecordBatch::Record r = raw_[next_raw_++];
    // Only the first record read can be the one a checkpoint stopped inside;
    // if it is gone (trimmed), the reader starts at a later one.
    const bool resumes_here = skip_ && skip_->first == r.sequence;
    const uint32_t processed_through = resumes_here ? skip_->second : 0;
    skip_.reset();
    switch (decoder_.Decode(r.data)) {
      case kpl::Decoder::Result::kAggregate:
        outer_ = r;
        next_user_ = resumes_here ? size_t(processed_through) + 1 : 0;
        continue;
      case kpl::Decoder::Result::kMalformed:
        if (malformed_) ++*malformed_;
        break;
      case kpl::Decoder::Result::kPlain:
        break;
    }
    if (resumes_here) continue;  // a whole record, already processed
    batch.Add(r);
    return true;
  }
}

Result<ShardCursor::State> DeaggregatingCursor::Read(RecordBatch& batch, size_t max_records,
                                                     size_t max_bytes) {
  size_t added = 0;
  const size_t bytes_before = batch.bytes();
  for (;;) {
    while (((added < max_records && (added == 0 || batch.bytes() - bytes_before < max_bytes)) ||
            (whole_records_ && InsideAggregate())) &&
           AddNext(batch))
      ++added;
    if (Buffered()) return State::kMore;  // the budget ran out first
    if (added > 0 || inner_state_ == State::kShardEnd) return inner_state_;
    raw_.Clear();
    next_raw_ = 0;
    KS_ASSIGN_OR_RETURN(inner_state_, inner_->Read(raw_, max_records, max_bytes));
    if (raw_.empty()) return inner_state_;
    // No aggregate in sight (the common case): hand the batch over as read.
    if (batch.empty() && !skip_ && !AnyMagic(raw_)) {
      std::swap(batch, raw_);
      raw_.Clear();
      return inner_state_;
    }
  }
}

namespace {

// Whether the stream still exists and `shard` is no longer among its shards.
bool ShardLeftStream(Backend& backend, const std::string& stream, uint64_t shard) {
  auto meta = backend.ListShards(stream);
  return meta.ok() && !meta->FindShard(shard);
}

// A cursor over a shard that left its stream: a kNotFound from the backend
// (a remote endpoint's ResourceNotFoundException) is the shard's end once the
// shard map confirms it is gone; none from an inner cursor, which is null
// when the shard was gone before it could be opened.
class GoneIsEndCursor final : public ShardCursor {
 public:
  GoneIsEndCursor(Backend& backend, std::string stream, uint64_t shard,
                  std::unique_ptr<ShardCursor> inner)
      : backend_(backend), stream_(std::move(stream)), shard_(shard), inner_(std::move(inner)) {}

  Result<State> Read(RecordBatch& batch, size_t max_records, size_t max_bytes) override {
    if (!inner_) return State::kShardEnd;
    auto state = inner_->Read(batch, max_records, max_bytes);
    if (state.ok() || state.status().code() != StatusCode::kNotFound ||
        !ShardLeftStream(backend_, stream_, shard_))
      return state;
    corrupt_ = inner_->corrupt_records();
    inner_.reset();
    return State::kShardEnd;
  }
  uint64_t shard_index() const override { return shard_; }
  uint64_t corrupt_records() const override {
    return inner_ ? inner_->corrupt_records() : corrupt_;
  }

 private:
  Backend& backend_;
  std::string stream_;
  uint64_t shard_;
  std::unique_ptr<ShardCursor> inner_;
  uint64_t corrupt_ = 0;
};

}  // namespace

Result<std::unique_ptr<ShardCursor>> OpenReadCursor(Backend& backend, const std::string& stream,
                                                    uint64_t shard, const StartPosition& start,
                                                    const ReadOptions& options) {
  auto opened = backend.OpenCursor(stream, shard, start);
  std::unique_ptr<ShardCursor> cursor;
  if (opened.ok()) {
    cursor = std::move(*opened);
  } else if (!options.gone_is_end || opened.status().code() != StatusCode::kNotFound ||
             !ShardLeftStream(backend, stream, shard)) {
    return opened.status();
  }
  if (options.gone_is_end)
    cursor = std::make_unique<GoneIsEndCursor>(backend, stream, shard, std::move(cursor));
  if (!options.deaggregate) return cursor;
  return std::unique_ptr<ShardCursor>(std::make_unique<DeaggregatingCursor>(
      std::move(cursor), start, options.malformed, options.whole_records));
}

}  // namespace kstream
