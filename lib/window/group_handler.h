// WindowHandler: kstream-window --stream S --group APP, the window engine as
// a deferring BatchHandler of a consumer-group worker (group_worker.h), so
// that windowed output is at least once across kill -9 and restarts.
//
// Checkpoints. A record is delivered once every window holding it was
// emitted and written to the output; a shard's checkpoint moves only past a
// prefix of such records. The handler keeps, per shard, the records handed
// over and not delivered as runs (last sequence, largest window bucket so
// far), so memory follows the open windows, not the records. User records
// of one KPL aggregate share a run: checkpoints stay whole Kinesis records.
// After a restart the records past the checkpoint are read again: those
// whose windows had already been emitted count twice (at least once).
//
// Watermarks (as Flink's Kinesis source): each shard has its own, the
// largest time among its records minus the allowed lateness; a record is
// late only against its own shard's. The windows close at the smallest
// watermark of the held shards, leaving out shards read to their end and
// idle ones: with --follow a shard caught up without a record for
// kIdleShardMs (event time); without --follow any caught-up shard. With
// processing (arrival) time a caught-up shard's watermark follows the clock
// less RunOptions::idle_lag_ms. When every shard is idle the watermark
// waits. A record whose window was already emitted but is not late for its
// shard (a shard taken over from a dead instance, a child after a reshard)
// reopens the window: it is emitted again, as a further partial line.
//
// SHARD_END. A shard read to its end is checkpointed at SHARD_END (and its
// children read) only once its records are delivered. If nothing else can
// move the watermark (no held shard counts), its open windows are emitted
// early, as at the end of input.
//
// Stopping. SIGINT/SIGTERM: windows the watermark closed are written, open
// windows are dropped, checkpoints cover only what was written. Without
// --follow, the end of the held shards emits every open window, as at the
// end of input, and checkpoints everything.
//
// Not thread-safe; one per worker.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "consume/batch_handler.h"
#include "consume/group_worker.h"
#include "core/env.h"
#include "window/processor.h"
#include "window/sink.h"

namespace kstream::window {

class WindowHandler final : public BatchHandler {
 public:
  // How long a caught-up shard without records holds the event-time
  // watermark back (Flink's shard idle interval).
  static constexpr int64_t kIdleShardMs = 1000;

  // The processor must be created with external_watermark.
  // emit_open_at_stop: a stop (SIGTERM) emits every open window, as at the
  // end of input (a reader without checkpoints: --stream without --group).
  WindowHandler(Processor& processor, Sink& sink, Env* env, const RunOptions& options, bool follow,
                bool emit_open_at_stop = false)
      : p_(processor),
        sink_(sink),
        env_(env),
        o_(options),
        follow_(follow),
        emit_open_at_stop_(emit_open_at_stop) {}

  size_t max_batch() const override { return 4096; }
  Result<bool> Handle(uint64_t shard, const RecordBatch& records, const Context& ctx) override;
  Result<bool> Flush() override;
  bool defers_delivery() const override { return true; }
  std::optional<SequenceNumber> Delivered(uint64_t shard) const override;
  Status DeliverDue(const Context& ctx) override;
  Status DeliverShard(uint64_t shard, const Context& ctx) override;
  int64_t next_due_ms() const override;
  void Release(uint64_t shard) override { shards_.erase(shard); }
  void ShardRead(uint64_t shard, bool caught_up, bool ended) override;

 private:
  // Records handed over through `sequence`, and the largest Bucket() of
  // the time of any record of the shard so far (INT64_MIN: none counted).
  struct Run {
    SequenceNumber sequence;
    int64_t bucket;
  };
  struct Shard {
    int64_t max_time = INT64_MIN;  // of its records in windows
    bool caught_up = false, ended = false;
    int64_t read_ms = 0;         // Env clock at the last read
    int64_t last_record_ms = 0;  // ... at the last record handed over (or when taken)
    std::deque<Run> runs;        // handed over, not delivered
    std::optional<SequenceNumber> delivered;
  };

  // Appends a whole Kinesis record (the largest bucket of its user records).
  static void AddRun(Shard& s, SequenceNumber sequence, int64_t bucket);
  // The largest time of s's records less the allowed lateness.
  int64_t RecordWatermark(const Shard& s) const;
  // ... and with arrival time, for a caught-up shard, the clock's.
  int64_t ShardWatermark(const Shard& s) const;
  // Whether s holds the watermark back.
  bool Counts(const Shard& s, int64_t now) const;
  // Moves the watermark to the smallest of the shards that count (emitting
  // what closes), writes the output and updates Delivered(). force: emits
  // every open window first.
  Status Advance(bool force);

  Processor& p_;
  Sink& sink_;
  Env* env_;
  const RunOptions& o_;
  const bool follow_;
  const bool emit_open_at_stop_;
  std::map<uint64_t, Shard> shards_;
  uint64_t number_ = 0;  // records handed over, for messages
  bool failed_ = false;  // a record stopped the run (--strict)
  std::string padded_;
};

// Runs a consumer-group worker over the stream with a WindowHandler (see
// RunGroupWorker for leases, and the header comment above for output).
Status RunOnGroup(Processor& processor, Backend& backend, LeaseTable& table,
                  const std::string& stream, const GroupOptions& group, Env* env,
                  const RunOptions& options, RecordWriter& out, RunStats& stats,
                  const StopFlag* stop, bool emit_open_at_stop = false);

}  // namespace kstream::window
