// BatchHandler: where a consumer-group worker hands its records over, one
// shard's batch at a time: standard output (StdoutHandler), or a command run
// per batch (ExecHandler, --exec). A record counts as processed, and may be
// checkpointed, only once Handle() and then Flush() said it was delivered,
// or, for a handler that keeps records past Flush() (kstream-deliver buffers
// many batches into one file), once Delivered() reports it.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>

#include "core/stop_flag.h"
#include "io/record_writer.h"
#include "store/backend.h"

namespace kstream {

class BatchHandler {
 public:
  // What a handler may call while it waits (a long command, a retry backoff).
  struct Context {
    std::function<Status()> keep_alive;  // renews the worker's leases when due
    const StopFlag* stop = nullptr;      // SIGINT/SIGTERM: finish the batch in hand, no more
  };
  virtual ~BatchHandler() = default;
  // The most records one Handle() gets.
  virtual size_t max_batch() const = 0;
  // How long a partial batch may wait for more records while following.
  virtual int64_t batch_window_ms() const { return 0; }
  // Hands a shard's records over, in order. true: delivered once Flush()
  // succeeds; false: not delivered (stopped), and the worker stops. An error
  // stops the worker with that message.
  virtual Result<bool> Handle(uint64_t shard, const RecordBatch& records, const Context& ctx) = 0;
  // Completes the hand-over of what Handle() took. false: the output went
  // away (a closed pipe): nothing since the last Flush() was delivered.
  virtual Result<bool> Flush() = 0;

  // A deferring handler keeps records past Flush() and delivers them later
  // (by size or age). The worker then checkpoints a shard only as far as
  // Delivered() says, calls DeliverDue() every round and by next_due_ms(),
  // DeliverShard() before a shard's end is checkpointed and at shutdown, and
  // Release() when it gives a shard up.
  virtual bool defers_delivery() const { return false; }
  // The last record of shard delivered for good (nullopt: none yet since
  // the worker took the shard).
  virtual std::optional<SequenceNumber> Delivered(uint64_t /*shard*/) const { return std::nullopt; }
  // Delivers what is due without new records (a buffer whose age passed).
  virtual Status DeliverDue(const Context& /*ctx*/) { return Status::Ok(); }
  // Delivers everything held of shard.
  virtual Status DeliverShard(uint64_t /*shard*/, const Context& /*ctx*/) { return Status::Ok(); }
  // Starts delivering everything held of shard without waiting for it; the
  // worker calls it for every shard before DeliverShard() on each, so the
  // shards' last flushes overlap instead of running one after another.
  virtual Status StartDelivery(uint64_t /*shard*/) { return Status::Ok(); }
  // When DeliverDue() next has work, on the Env clock.
  virtual int64_t next_due_ms() const { return std::numeric_limits<int64_t>::max(); }
  // The worker no longer holds shard: drop what is held of it undelivered
  // (the shard's next owner reads it again from the checkpoint).
  virtual void Release(uint64_t /*shard*/) {}
  // After each read of a held shard, before its records are handed over:
  // caught_up, it has nothing newer now; ended, it was read to its end. For
  // a handler that keeps time per shard (kstream-window's watermarks).
  virtual void ShardRead(uint64_t /*shard*/, bool /*caught_up*/, bool /*ended*/) {}
};

// Records to a RecordWriter (standard output): delivered once written out.
class StdoutHandler final : public BatchHandler {
 public:
  explicit StdoutHandler(RecordWriter& out) : out_(out) {}
  size_t max_batch() const override { return 4096; }
  Result<bool> Handle(uint64_t shard, const RecordBatch& records, const Context&) override {
    for (size_t i = 0; i < records.size(); ++i)
      if (!out_.Write(shard, records[i])) break;  // closed: Flush() says so
    return true;
  }
  Result<bool> Flush() override {
    KS_RETURN_IF_ERROR(out_.Flush());
    return !out_.closed();
  }

 private:
  RecordWriter& out_;
};

}  // namespace kstream
