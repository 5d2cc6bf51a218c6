// BatchHandler: where a consumer-group worker hands its records over, one
// shard's batch at a time: standard output (StdoutHandler), or a command run
// per batch (ExecHandler, --exec). A record counts as processed, and may be
// checkpointed, only once Handle() and then Flush() said it was delivered.
#pragma once

#include <cstdint>
#include <functional>

#include "io/record_writer.h"
#include "store/backend.h"

namespace kstream {

class BatchHandler {
 public:
  // What a handler may call while it waits (a long command, a retry backoff).
  struct Context {
    std::function<Status()> keep_alive;   // renews the worker's leases when due
    const volatile bool* stop = nullptr;  // SIGINT/SIGTERM: finish the batch in hand, no more
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
