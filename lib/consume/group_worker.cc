#include "consume/group_worker.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "consume/deaggregate.h"
#include "consume/group_leases.h"
#include "consume/lease_coordinator.h"
#include "core/stop_flag.h"

namespace kstream {
namespace {

constexpr size_t kReadBytes = 1 << 20;

class GroupWorker {
 public:
  GroupWorker(Backend& backend, LeaseTable& table, Env* env, std::string stream,
              const GroupOptions& o, BatchHandler& handler, GroupStats& stats, const StopFlag* stop)
      : backend_(backend),
        table_(table),
        env_(env),
        stream_(std::move(stream)),
        o_(o),
        handler_(handler),
        stats_(stats),
        stop_(stop),
        coord_(&table, env, {o.worker, o.lease_timeout_ms, o.log}) {
    ctx_.keep_alive = [this] { return coord_.RenewIfDue(); };
    ctx_.stop = stop;
  }

  Status Run() {
    Status s = Loop();
    Status end = Shutdown();
    return s.ok() ? end : s;
  }

 private:
  struct Shard {
    std::unique_ptr<ShardCursor> cursor;
    RecordBatch pending;  // read, not handed over yet
    int64_t pending_since = 0;
    bool caught_up = false;
    bool ended = false;                         // the cursor reached the shard's end
    std::optional<Checkpoint> handled;          // through the last batch handed over, until Flush()
    std::optional<SequenceNumber> last_handed;  // since the shard was taken
    Checkpoint delivered;                       // what may be checkpointed
    Checkpoint written;                         // the checkpoint in the table
  };

  int64_t Now() { return env_->NowMillis(); }

  Status Loop() {
    if (o_.follow) {
      KS_ASSIGN_OR_RETURN(watch_, backend_.Watch(stream_));
    }
    KS_RETURN_IF_ERROR(Rebalance().status());
    while (!*stop_ && !finished_) {
      KS_RETURN_IF_ERROR(Housekeeping());
      KS_ASSIGN_OR_RETURN(bool progress, Round());
      KS_ASSIGN_OR_RETURN(bool ended, FinishEndedShards());
      if (o_.on_progress) o_.on_progress(stats_);
      if (Now() >= next_checkpoint_) KS_RETURN_IF_ERROR(WriteCheckpoints(false));
      if (progress || ended || finished_) continue;
      if (!o_.follow) {
        // Everything held is read: go unless there is more to take.
        KS_ASSIGN_OR_RETURN(size_t acquired, Rebalance());
        if (acquired == 0) break;
        continue;
      }
      KS_RETURN_IF_ERROR(watch_->Wait(WaitMs()));
    }
    return Status::Ok();
  }

  // Adds leases for new shards, renews, takes and steals; opens what was
  // taken. Returns the number of shards taken.
  Result<size_t> Rebalance() {
    KS_RETURN_IF_ERROR(SyncLeases(backend_, stream_, table_, o_.start, &known_shards_));
    KS_RETURN_IF_ERROR(coord_.Balance());
    next_balance_ = Now() + o_.lease_timeout_ms / 3;
    return ApplyLeaseChanges();
  }

  Status Housekeeping() {
    if (Now() >= next_balance_) return Rebalance().status();
    KS_RETURN_IF_ERROR(coord_.RenewIfDue());
    if (Now() >= next_verify_) {
      KS_RETURN_IF_ERROR(coord_.Verify());
      next_verify_ = Now() + VerifyIntervalMs();
    }
    return ApplyLeaseChanges().status();
  }

  // How often to look for leases stolen from this worker: a victim would
  // otherwise go on until its next renewal, repeating what the thief reads.
  int64_t VerifyIntervalMs() const { return std::min<int64_t>(250, o_.lease_timeout_ms / 3); }

  Result<size_t> ApplyLeaseChanges() {
    for (uint64_t shard : coord_.TakeLost()) Drop(shard);
    size_t taken = 0;
    for (const Lease& l : coord_.TakeAcquired()) {
      Drop(l.shard);
      // Opened before the shard is entered, so a failure leaves no state
      // whose checkpoint the shutdown would write over the lease's.
      // A shard that expired before the group finished it ends: its lease
      // reaches SHARD_END, its children become ready, its lease is cleaned up.
      KS_ASSIGN_OR_RETURN(auto cursor,
                          OpenReadCursor(backend_, stream_, l.shard, l.checkpoint.ResumePosition(),
                                         {o_.deaggregate, &stats_.malformed,
                                          /*whole_records=*/handler_.defers_delivery(),
                                          /*gone_is_end=*/true}));
      Shard& s = shards_[l.shard];
      s.cursor = std::move(cursor);
      s.delivered = s.written = l.checkpoint;
      ++taken;
    }
    return taken;
  }

  void Drop(uint64_t shard) {
    auto it = shards_.find(shard);
    if (it == shards_.end()) return;
    reserved_ -= it->second.pending.size();
    if (it->second.cursor) stats_.corrupt += it->second.cursor->corrupt_records();
    shards_.erase(it);
    handler_.Release(shard);
  }

  // Reads from every held shard and hands over the batches that are ready.
  Result<bool> Round() {
    bool progress = false;
    for (auto& [index, s] : shards_) {
      if (!coord_.holds(index)) continue;  // lost while a batch ran; dropped soon
      KS_ASSIGN_OR_RETURN(bool read, Fill(s));
      progress |= read;
      if (!Ready(s)) continue;
      progress = true;
      KS_ASSIGN_OR_RETURN(bool delivered, handler_.Handle(index, s.pending, ctx_));
      if (!delivered) {
        finished_ = true;  // stopped with the batch undelivered
        break;
      }
      const RecordBatch::Record last = s.pending[s.pending.size() - 1];
      s.last_handed = last.sequence;
      s.handled = Checkpoint::Through(last);
      unflushed_records_ += s.pending.size();
      unflushed_bytes_ += s.pending.data_bytes();  // no record built again to count them
      s.pending.Clear();
      if (*stop_) break;
    }
    KS_RETURN_IF_ERROR(FlushHandled());
    if (handler_.defers_delivery()) {
      KS_RETURN_IF_ERROR(handler_.DeliverDue(ctx_));
      TakeDelivered();
    }
    return progress;
  }

  // A deferring handler's word on what is delivered for good.
  void TakeDelivered() {
    for (auto& [index, s] : shards_) {
      std::optional<SequenceNumber> d = handler_.Delivered(index);
      if (!d || !coord_.holds(index)) continue;
      if (s.delivered.kind != Checkpoint::Kind::kSequence || *d > s.delivered.sequence)
        s.delivered = Checkpoint::Sequence(*d);
    }
  }

  // Whether everything handed over of s is delivered, after asking a
  // deferring handler to deliver the rest.
  Result<bool> ShardDelivered(uint64_t index, Shard& s) {
    if (!handler_.defers_delivery()) return true;
    // Also without a batch handed over: a failed one may have left earlier
    // flushes of it finished, but not yet reported.
    Status delivered = handler_.DeliverShard(index, ctx_);
    TakeDelivered();  // what earlier flushes delivered counts even after a failure
    KS_RETURN_IF_ERROR(delivered);
    return !s.last_handed || s.delivered == Checkpoint::Sequence(*s.last_handed);
  }

  Result<bool> Fill(Shard& s) {
    if (s.ended) return false;
    size_t room = handler_.max_batch() - std::min(handler_.max_batch(), s.pending.size());
    if (o_.limit) room = std::min<uint64_t>(room, *o_.limit - reserved_);
    if (room == 0) return false;
    const size_t before = s.pending.size();
    KS_ASSIGN_OR_RETURN(auto state, s.cursor->Read(s.pending, room, kReadBytes));
    const size_t got = s.pending.size() - before;
    reserved_ += got;
    if (before == 0 && got > 0) s.pending_since = Now();
    s.caught_up = state == ShardCursor::State::kCaughtUp;
    s.ended = state == ShardCursor::State::kShardEnd;
    handler_.ShardRead(s.cursor->shard_index(), s.caught_up, s.ended);
    return got > 0;
  }

  bool Ready(const Shard& s) {
    if (s.pending.empty()) return false;
    if (s.pending.size() >= handler_.max_batch()) return true;
    if (o_.limit && reserved_ >= *o_.limit) return true;  // nothing more will be read
    if (!s.caught_up && !s.ended) return false;           // more can be read right away
    if (s.ended || !o_.follow) return true;
    return Now() - s.pending_since >= handler_.batch_window_ms();
  }

  // Completes the hand-over; what it covers becomes checkpointable.
  Status FlushHandled() {
    if (unflushed_records_ == 0) return Status::Ok();
    KS_ASSIGN_OR_RETURN(bool flushed, handler_.Flush());
    if (!flushed) finished_ = true;  // the output went away
    const bool deferred = handler_.defers_delivery();
    for (auto& [index, s] : shards_) {
      if (flushed && !deferred && s.handled && coord_.holds(index)) s.delivered = *s.handled;
      s.handled.reset();
    }
    if (flushed) {
      stats_.records += unflushed_records_;
      stats_.bytes += unflushed_bytes_;
    }
    unflushed_records_ = unflushed_bytes_ = 0;
    if (o_.limit && stats_.records >= *o_.limit) finished_ = true;
    return Status::Ok();
  }

  // Checkpoints every fully delivered shard at SHARD_END and lets its lease
  // go, then looks for its children. True if any ended.
  Result<bool> FinishEndedShards() {
    std::vector<LeaseCoordinator::CheckpointWrite> writes;
    auto finished = [&](uint64_t index, const Shard& s) {
      return s.ended && s.pending.empty() && !s.handled && coord_.holds(index);
    };
    // A failure to start shows again in ShardDelivered, which also reaps
    // what did get delivered.
    for (auto& [index, s] : shards_)
      if (finished(index, s)) (void)handler_.StartDelivery(index);
    for (auto& [index, s] : shards_) {
      if (!finished(index, s)) continue;
      KS_ASSIGN_OR_RETURN(bool delivered, ShardDelivered(index, s));
      if (delivered) writes.push_back({index, Checkpoint::ShardEnd(), /*release=*/true});
    }
    if (writes.empty()) return false;
    KS_RETURN_IF_ERROR(coord_.Checkpoint(writes));
    for (const auto& w : writes) Drop(w.shard);
    known_shards_ = {};  // a finished lease of an expired shard is cleaned up now
    KS_RETURN_IF_ERROR(Rebalance().status());
    return true;
  }

  Status WriteCheckpoints(bool release_all) {
    std::vector<LeaseCoordinator::CheckpointWrite> writes;
    for (auto& [index, s] : shards_)
      if (coord_.holds(index) && (release_all || s.delivered != s.written))
        writes.push_back({index, s.delivered, release_all});
    KS_RETURN_IF_ERROR(coord_.Checkpoint(writes));
    for (const auto& w : writes) shards_[w.shard].written = w.checkpoint;
    next_checkpoint_ = Now() + o_.checkpoint_interval_ms;
    return ApplyLeaseChanges().status();
  }

  // Delivers the batch in hand, checkpoints and releases every lease.
  Status Shutdown() {
    Status flushed = FlushHandled();
    for (auto& [index, s] : shards_)
      if (flushed.ok() && coord_.holds(index)) (void)handler_.StartDelivery(index);  // as above
    for (auto& [index, s] : shards_) {
      if (!flushed.ok()) break;
      if (coord_.holds(index)) flushed = ShardDelivered(index, s).status();
    }
    if (handler_.defers_delivery()) TakeDelivered();
    Status written = WriteCheckpoints(/*release_all=*/true);
    Status released = coord_.ReleaseAll();
    for (auto& [index, s] : shards_)
      if (s.cursor) stats_.corrupt += s.cursor->corrupt_records();
    shards_.clear();
    if (!flushed.ok()) return flushed;
    return written.ok() ? released : written;
  }

  // How long to wait for new records before the next duty.
  int WaitMs() {
    int64_t deadline = std::min({next_balance_, coord_.next_renewal_ms(), handler_.next_due_ms()});
    for (const auto& [index, s] : shards_) {
      if (s.delivered != s.written) deadline = std::min(deadline, next_checkpoint_);
      if (!s.pending.empty())
        deadline = std::min(deadline, s.pending_since + handler_.batch_window_ms());
    }
    // Bounded, so a wall-clock step cannot starve the renewals.
    return int(std::clamp<int64_t>(deadline - Now(), 0, o_.lease_timeout_ms / 3));
  }

  Backend& backend_;
  LeaseTable& table_;
  Env* env_;
  std::string stream_;
  const GroupOptions& o_;
  BatchHandler& handler_;
  GroupStats& stats_;
  const StopFlag* stop_;
  LeaseCoordinator coord_;
  BatchHandler::Context ctx_;
  std::unique_ptr<ChangeWatch> watch_;
  std::map<uint64_t, Shard> shards_;
  ShardMapSeen known_shards_;
  int64_t next_balance_ = 0;
  int64_t next_verify_ = 0;
  int64_t next_checkpoint_ = 0;
  uint64_t reserved_ = 0;  // records read so far, for the limit
  uint64_t unflushed_records_ = 0, unflushed_bytes_ = 0;
  bool finished_ = false;
};

}  // namespace

Status RunGroupWorker(Backend& backend, LeaseTable& table, Env* env, const std::string& stream,
                      const GroupOptions& options, BatchHandler& handler, GroupStats& stats,
                      const StopFlag* stop) {
  GroupWorker w(backend, table, env, stream, options, handler, stats, stop);
  Status s = w.Run();
  // Files vanishing under a worker mean the stream was deleted.
  if (s.code() == StatusCode::kNotFound && !backend.ListShards(stream).ok())
    return Status::NotFound("stream '" + stream + "' was deleted while being read");
  return s;
}

std::string DefaultWorkerId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || !*host)
    std::snprintf(host, sizeof(host), "localhost");
  return std::string(host) + ":" + std::to_string(getpid());
}

}  // namespace kstream
