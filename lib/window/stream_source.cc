#include "window/stream_source.h"

#include <vector>

#include "consume/deaggregate.h"
#include "core/clock.h"

namespace kstream::window {
namespace {

constexpr size_t kReadRecords = 4096;
constexpr size_t kReadBytes = 1 << 20;
constexpr int64_t kIdlePollMs = 20;  // how often a caught-up shard is read again
constexpr int64_t kRefreshMs = 1000;

}  // namespace

Status StreamSource::Open() {
  if (follow_) {
    KS_ASSIGN_OR_RETURN(watch_, backend_.Watch(stream_));
  }
  return Refresh();
}

Status StreamSource::Refresh() {
  KS_ASSIGN_OR_RETURN(StreamDescription d, backend_.DescribeStream(stream_));
  last_refresh_ms_ = SteadyMillis();
  for (const ShardLineage::Ready& r : lineage_.TakeReady(d.meta)) {
    KS_ASSIGN_OR_RETURN(auto cursor, OpenReadCursor(backend_, stream_, r.shard, r.start,
                                                    {deaggregate_, &malformed_}));
    active_[r.shard].cursor = std::move(cursor);
  }
  return Status::Ok();
}

// Reads a batch for every shard whose buffer is used up; a caught-up shard
// only every kIdlePollMs while another shard has records buffered.
Status StreamSource::ReadShards() {
  bool any_buffered = false;
  for (auto& [index, s] : active_) any_buffered |= s.pos < s.batch.size();
  const int64_t now = SteadyMillis();
  for (auto& [index, s] : active_) {
    if (s.pos < s.batch.size() || s.ended) continue;
    if (s.idle && any_buffered && now - s.last_read_ms < kIdlePollMs) continue;
    s.batch.Clear();
    s.pos = 0;
    KS_ASSIGN_OR_RETURN(auto state, s.cursor->Read(s.batch, kReadRecords, kReadBytes));
    s.last_read_ms = now;
    s.ended = state == ShardCursor::State::kShardEnd;
    s.idle = state != ShardCursor::State::kMore && s.batch.empty();
  }
  return Status::Ok();
}

Result<StreamSource::State> StreamSource::Next(Record& record) {
  for (;;) {
    KS_RETURN_IF_ERROR(ReadShards());
    bool finished_some = false;
    for (auto it = active_.begin(); it != active_.end();) {
      Shard& s = it->second;
      const bool drained = s.pos >= s.batch.size();
      // Read once: a caught-up open shard is done for this run.
      if (drained && (s.ended || (!follow_ && s.idle))) {
        corrupt_ += s.cursor->corrupt_records();
        finished_some |= s.ended;
        lineage_.Done(it->first);
        it = active_.erase(it);
      } else {
        ++it;
      }
    }
    if (finished_some) {
      KS_RETURN_IF_ERROR(Refresh());  // children may be readable now
      continue;
    }
    Shard* best = nullptr;
    for (auto& [index, s] : active_)
      if (s.pos < s.batch.size() &&
          (!best || s.batch[s.pos].arrival_ms < best->batch[best->pos].arrival_ms))
        best = &s;
    if (!best) return active_.empty() && !follow_ ? State::kEnd : State::kIdle;
    const RecordBatch::Record r = best->batch[best->pos++];
    record.data = r.data;
    record.arrival_ms = r.arrival_ms;
    return State::kRecord;
  }
}

Status StreamSource::Wait(int timeout_ms) {
  if (watch_) KS_RETURN_IF_ERROR(watch_->Wait(timeout_ms));
  if (SteadyMillis() - last_refresh_ms_ >= kRefreshMs) return Refresh();
  return Status::Ok();
}

}  // namespace kstream::window
