#include "consume/consumer.h"

#include <map>

#include "consume/shard_lineage.h"

#include "core/clock.h"
#include "core/stop_flag.h"
#include "core/text.h"

namespace kstream {
namespace {

constexpr size_t kReadRecords = 4096;
constexpr size_t kReadBytes = 1 << 20;

class Consumer {
 public:
  Consumer(Backend& backend, std::string stream, const ConsumerOptions& o, RecordWriter& out,
           ConsumerStats& stats)
      : backend_(backend),
        stream_(std::move(stream)),
        o_(o),
        out_(out),
        stats_(stats),
        lineage_(o.start) {}

  bool started() const { return started_; }

  Status Run(const StopFlag* stop) {
    if (o_.follow) {
      KS_ASSIGN_OR_RETURN(watch_, backend_.Watch(stream_));
    }
    KS_RETURN_IF_ERROR(Refresh(/*initial=*/true));
    finished_ = o_.limit && *o_.limit == 0;  // a read budget of 0 would never end
    int64_t last_refresh = SteadyMillis();
    while (!*stop && !finished_) {
      bool progress;
      KS_ASSIGN_OR_RETURN(progress, o_.ordered ? MergeStep() : RoundRobinStep());
      if (finished_) break;
      if (o_.on_progress) o_.on_progress(stats_);
      if (shard_ended_) {
        shard_ended_ = false;
        KS_RETURN_IF_ERROR(Refresh(false));  // children may be ready now
        last_refresh = SteadyMillis();
        continue;
      }
      if (progress) continue;
      if (!o_.follow) break;  // every shard is read to its end
      KS_RETURN_IF_ERROR(out_.Flush());
      if (out_.closed()) break;
      KS_RETURN_IF_ERROR(watch_->Wait(o_.metadata_refresh_ms));
      if (SteadyMillis() - last_refresh >= o_.metadata_refresh_ms) {
        KS_RETURN_IF_ERROR(Refresh(false));
        last_refresh = SteadyMillis();
      }
    }
    for (auto& [index, s] : active_) stats_.corrupt += s.cursor->corrupt_records();
    return out_.Flush();
  }

 private:
  struct ShardState {
    std::unique_ptr<ShardCursor> cursor;
    RecordBatch batch;
    size_t pos = 0;
    bool end_after_batch = false;  // the shard ended after the buffered records
    bool caught_up = false;
  };

  // Reads the shard map and opens every shard that is ready to be read.
  Status Refresh(bool initial) {
    KS_ASSIGN_OR_RETURN(meta_, backend_.ListShards(stream_));
    if (!o_.shards.empty()) {
      if (!initial) return Status::Ok();
      for (uint64_t index : o_.shards) {
        if (!meta_.FindShard(index)) return ShardNotFound(meta_, index);
        KS_RETURN_IF_ERROR(Open(index, o_.start));
      }
      return Status::Ok();
    }
    for (const ShardLineage::Ready& r : lineage_.TakeReady(meta_))
      KS_RETURN_IF_ERROR(Open(r.shard, r.start));
    return Status::Ok();
  }

  Status Open(uint64_t index, const StartPosition& start) {
    // Shards reached through lineage may expire under the reader: such a
    // parent ends, and its children follow (a shard the user named fails).
    ReadOptions read{o_.deaggregate, &stats_.malformed};
    read.gone_is_end = o_.shards.empty();
    KS_ASSIGN_OR_RETURN(auto cursor, OpenReadCursor(backend_, stream_, index, start, read));
    started_ = true;
    active_[index].cursor = std::move(cursor);
    return Status::Ok();
  }

  void Finish(uint64_t index) {
    auto it = active_.find(index);
    stats_.corrupt += it->second.cursor->corrupt_records();
    active_.erase(it);
    lineage_.Done(index);
    shard_ended_ = true;
    // Chosen shards that are all closed and read: nothing more can come,
    // following or not.
    if (active_.empty() && !o_.shards.empty()) finished_ = true;
  }

  // Emits one record; false when the consumer must stop (limit, closed pipe).
  bool Emit(uint64_t index, const RecordBatch::Record& r) {
    stats_.records++;
    stats_.bytes += r.data.size();
    if (!out_.Write(index, r) || (o_.limit && stats_.records >= *o_.limit)) {
      finished_ = true;
      return false;
    }
    return true;
  }

  size_t ReadBudget() const {
    if (!o_.limit) return kReadRecords;
    return std::min<uint64_t>(kReadRecords, *o_.limit - stats_.records);
  }

  // Reads a batch from every active shard in turn; true if any had data.
  Result<bool> RoundRobinStep() {
    bool progress = false;
    std::vector<uint64_t> ended;
    for (auto& [index, s] : active_) {
      s.batch.Clear();
      KS_ASSIGN_OR_RETURN(auto state, s.cursor->Read(s.batch, ReadBudget(), kReadBytes));
      for (size_t i = 0; i < s.batch.size(); ++i)
        if (!Emit(index, s.batch[i])) return true;
      if (state == ShardCursor::State::kShardEnd) ended.push_back(index);
      if (state == ShardCursor::State::kMore || !s.batch.empty()) progress = true;
    }
    for (uint64_t index : ended) Finish(index);
    return progress;
  }

  // Emits the earliest buffered record across shards; true if one was emitted.
  Result<bool> MergeStep() {
    std::vector<uint64_t> ended;
    for (auto& [index, s] : active_) {
      if (s.pos < s.batch.size()) continue;
      if (s.end_after_batch) {
        ended.push_back(index);
        continue;
      }
      s.batch.Clear();
      s.pos = 0;
      KS_ASSIGN_OR_RETURN(auto state, s.cursor->Read(s.batch, kReadRecords, kReadBytes));
      s.caught_up = state == ShardCursor::State::kCaughtUp;
      if (state == ShardCursor::State::kShardEnd) {
        if (s.batch.empty())
          ended.push_back(index);
        else
          s.end_after_batch = true;
      }
    }
    if (!ended.empty()) {
      for (uint64_t index : ended) Finish(index);
      return true;  // children may hold earlier records than other heads
    }
    if (!o_.follow) {
      // Read once to the end: a caught-up open shard has nothing more to give.
      for (auto it = active_.begin(); it != active_.end();) {
        if (it->second.caught_up && it->second.pos >= it->second.batch.size()) {
          stats_.corrupt += it->second.cursor->corrupt_records();
          it = active_.erase(it);
        } else {
          ++it;
        }
      }
    }
    // Following, a caught-up shard may still receive records older than
    // another shard's head; arrival times come from one clock, so the merge
    // waits for nothing and stays ordered up to that race.
    ShardState* best = nullptr;
    uint64_t best_index = 0;
    for (auto& [index, s] : active_) {
      if (s.pos >= s.batch.size()) continue;
      if (!best || s.batch[s.pos].arrival_ms < best->batch[best->pos].arrival_ms) {
        best = &s;
        best_index = index;
      }
    }
    if (!best) return false;
    // Emit the run of this shard's records that are not later than any other head.
    int64_t bound = INT64_MAX;
    for (auto& [index, s] : active_)
      if (&s != best && s.pos < s.batch.size()) bound = std::min(bound, s.batch[s.pos].arrival_ms);
    do {
      if (!Emit(best_index, best->batch[best->pos++])) return true;
    } while (best->pos < best->batch.size() && best->batch[best->pos].arrival_ms <= bound);
    return true;
  }

  Backend& backend_;
  std::string stream_;
  const ConsumerOptions& o_;
  RecordWriter& out_;
  ConsumerStats& stats_;
  std::unique_ptr<ChangeWatch> watch_;
  StreamMeta meta_;
  std::map<uint64_t, ShardState> active_;
  ShardLineage lineage_;
  bool started_ = false;  // a shard was opened
  bool shard_ended_ = false;
  bool finished_ = false;
};

}  // namespace

Status RunConsumer(Backend& backend, const std::string& stream, const ConsumerOptions& options,
                   RecordWriter& out, ConsumerStats& stats, const StopFlag* stop) {
  Consumer c(backend, stream, options, out, stats);
  Status s = c.Run(stop);
  // Files vanishing under a reader that had started mean the stream was deleted.
  if (s.code() == StatusCode::kNotFound && c.started() && !backend.ListShards(stream).ok())
    return Status::NotFound("stream '" + stream + "' was deleted while being read");
  return s;
}

}  // namespace kstream
