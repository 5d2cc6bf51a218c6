#include "window/group_handler.h"

#include <algorithm>

namespace kstream::window {

void WindowHandler::ShardRead(uint64_t shard, bool caught_up, bool ended) {
  const int64_t now = env_->NowMillis();
  auto [it, taken] = shards_.try_emplace(shard);
  Shard& s = it->second;
  if (taken) s.last_record_ms = now;
  s.caught_up = caught_up;
  s.ended = ended;
  s.read_ms = now;
}

Result<bool> WindowHandler::Handle(uint64_t shard, const RecordBatch& records, const Context&) {
  Shard& s = shards_[shard];
  WindowEngine& engine = p_.engine();
  int64_t late_before = engine.LateBefore(RecordWatermark(s));
  int64_t record_bucket = INT64_MIN;  // of the Kinesis record being read
  for (size_t i = 0; i < records.size() && !sink_.closed(); ++i) {
    const RecordBatch::Record r = records[i];
    // The parser needs readable padding after the record.
    padded_.assign(r.data);
    padded_.append(64, '\0');
    Processor::Outcome outcome;
    int64_t time;
    Status handled = sink_.Handle(std::string_view(padded_.data(), r.data.size()), r.arrival_ms,
                                  ++number_, late_before, outcome, time);
    if (!handled.ok()) {
      failed_ = true;
      return handled;
    }
    int64_t bucket = INT64_MIN;
    if (outcome == Processor::Outcome::kAdded) {
      bucket = engine.Bucket(time);
      if (time > s.max_time) {
        s.max_time = time;
        late_before = engine.LateBefore(RecordWatermark(s));
      }
    }
    // A KPL aggregate's user records share a sequence: one entry for all.
    if (i > 0 && records[i - 1].sequence == r.sequence) {
      record_bucket = std::max(record_bucket, bucket);
    } else {
      if (i > 0) AddRun(s, records[i - 1].sequence, record_bucket);
      record_bucket = bucket;
    }
  }
  // Reads end between Kinesis records (whole_records): the last one is whole.
  // (A closed output delivers nothing more.)
  if (!records.empty() && !sink_.closed()) {
    AddRun(s, records[records.size() - 1].sequence, record_bucket);
    s.last_record_ms = env_->NowMillis();
  }
  return true;
}

Result<bool> WindowHandler::Flush() {
  KS_RETURN_IF_ERROR(sink_.Drain(true));
  return !sink_.closed();
}

// Runs keep the prefix maximum: a record at or below the last run's bucket
// joins it.
void WindowHandler::AddRun(Shard& s, SequenceNumber sequence, int64_t bucket) {
  if (!s.runs.empty() && bucket <= s.runs.back().bucket) {
    s.runs.back().sequence = sequence;
  } else {
    s.runs.push_back({sequence, bucket});
  }
}

int64_t WindowHandler::RecordWatermark(const Shard& s) const {
  return s.max_time == INT64_MIN ? INT64_MIN : s.max_time - p_.allowed_lateness_ms();
}

int64_t WindowHandler::ShardWatermark(const Shard& s) const {
  int64_t w = RecordWatermark(s);
  // Arrival time: what lands next arrives about now.
  if (!p_.event_time() && s.caught_up && !s.ended) w = std::max(w, s.read_ms - o_.idle_lag_ms);
  return w;
}

bool WindowHandler::Counts(const Shard& s, int64_t now) const {
  if (s.ended) return false;
  if (!s.caught_up) return true;
  if (!follow_) return false;  // read to the end of what there is
  return !p_.event_time() || now - s.last_record_ms < kIdleShardMs;
}

Status WindowHandler::Advance(bool force) {
  WindowEngine& engine = p_.engine();
  if (force) {
    engine.Finish();
  } else {
    const int64_t now = env_->NowMillis();
    int64_t w = INT64_MAX;
    bool any = false;
    for (const auto& [index, s] : shards_) {
      if (!Counts(s, now)) continue;
      w = std::min(w, ShardWatermark(s));
      any = true;
    }
    // Without a shard that counts the watermark waits, but windows reopened
    // below it are still due.
    engine.AdvanceWatermark(any ? w : INT64_MIN);
  }
  sink_.CountWindows();
  KS_RETURN_IF_ERROR(sink_.Drain(true));
  if (sink_.closed()) return Status::Ok();  // nothing more is delivered
  const int64_t open = engine.min_open_start();
  for (auto& [index, s] : shards_) {
    while (!s.runs.empty() && s.runs.front().bucket < open) {
      s.delivered = s.runs.front().sequence;
      s.runs.pop_front();
    }
  }
  return Status::Ok();
}

std::optional<SequenceNumber> WindowHandler::Delivered(uint64_t shard) const {
  auto it = shards_.find(shard);
  return it == shards_.end() ? std::nullopt : it->second.delivered;
}

Status WindowHandler::DeliverDue(const Context&) {
  return Advance(false);
}

Status WindowHandler::DeliverShard(uint64_t shard, const Context& ctx) {
  KS_RETURN_IF_ERROR(Advance(false));
  auto it = shards_.find(shard);
  if (it == shards_.end() || it->second.runs.empty() || failed_ || sink_.closed())
    return Status::Ok();
  const bool stopping = ctx.stop && *ctx.stop;
  if (stopping && !emit_open_at_stop_) return Status::Ok();  // read again after a restart
  // A shard's end: its windows are emitted early only when nothing else
  // would close them. Any other shard here: the worker is stopping, which
  // without --follow is the end of the input.
  bool force = !follow_ || stopping;
  if (it->second.ended) {
    const int64_t now = env_->NowMillis();
    force = std::none_of(shards_.begin(), shards_.end(),
                         [&](const auto& e) { return Counts(e.second, now); });
  }
  return force ? Advance(true) : Status::Ok();
}

int64_t WindowHandler::next_due_ms() const {
  const int64_t now = env_->NowMillis();
  int64_t due = INT64_MAX;
  if (!p_.event_time()) {
    const int64_t close = p_.engine().next_close();
    if (close != INT64_MAX) due = close + o_.idle_lag_ms;
  } else if (follow_) {
    // When a caught-up shard turns idle and stops holding the watermark.
    for (const auto& [index, s] : shards_)
      if (s.caught_up && !s.ended && now - s.last_record_ms < kIdleShardMs)
        due = std::min(due, s.last_record_ms + kIdleShardMs);
  }
  // A window held by a shard still being read is not due yet: no busy wait.
  return due == INT64_MAX ? due : std::max(due, now + 10);
}

Status RunOnGroup(Processor& p, Backend& backend, LeaseTable& table, const std::string& stream,
                  const GroupOptions& group, Env* env, const RunOptions& o, RecordWriter& out,
                  RunStats& stats, const StopFlag* stop, bool emit_open_at_stop) {
  Sink sink(p, o, out, stats, "record");
  KS_RETURN_IF_ERROR(sink.Open());
  WindowHandler handler(p, sink, env, o, group.follow, emit_open_at_stop);
  GroupStats gs;
  Status s = RunGroupWorker(backend, table, env, stream, group, handler, gs, stop);
  sink.CountWindows();
  stats.corrupt = gs.corrupt;
  stats.malformed = gs.malformed;
  Status drained = sink.Drain(true);
  return s.ok() ? drained : s;
}

}  // namespace kstream::window
