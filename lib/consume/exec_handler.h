// ExecHandler (kstream-get --group --exec CMD): the AWS Lambda Kinesis
// trigger's role. Runs CMD with /bin/sh once per batch of one shard's
// records, the records framed on its stdin as kstream-get would print them,
// and these environment variables:
//
//   KSTREAM_STREAM, KSTREAM_GROUP, KSTREAM_WORKER   who is running it
//   KSTREAM_SHARD_ID                               shardId-000000000003
//   KSTREAM_FIRST_SEQUENCE, KSTREAM_LAST_SEQUENCE  the batch's sequence range
//   KSTREAM_RECORD_COUNT                           records in the batch
//   KSTREAM_ATTEMPT                                1 for the first run of it
//
// Exit status 0 delivers the batch. Otherwise it is retried after a backoff
// (100 ms, doubling, at most 5 s) up to max_retries times; then, with bisect,
// split in halves, each handled the same way in order (isolating a poison
// record); what still fails goes to the FailureSink, or, without one, stops
// the worker with an error naming the batch. Shard order is kept: nothing
// after a failing batch runs before it is settled.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "consume/batch_handler.h"
#include "consume/exec_command.h"
#include "consume/failure_sink.h"
#include "core/env.h"
#include "io/record_writer.h"

namespace kstream {

struct ExecOptions {
  std::string command;
  OutputFormat format = OutputFormat::kLines;
  size_t batch_size = 100;
  int64_t batch_window_ms = 0;
  int max_retries = 3;
  int64_t retry_backoff_ms = 100;  // doubled per retry, at most kMaxBackoffMs
  bool bisect = false;
  std::string stream, group, worker;  // for the environment and reports
};

struct ExecStats {
  uint64_t runs = 0;  // commands started
  uint64_t failed_runs = 0;
  uint64_t failed_records = 0;  // sent to the failure sink
};

class ExecHandler final : public BatchHandler {
 public:
  static constexpr int64_t kMaxBackoffMs = 5000;
  // failures may be null (stop on a batch that keeps failing); warn reports
  // records set aside (may be empty).
  ExecHandler(ExecOptions o, std::unique_ptr<FailureSink> failures, Env* env,
              std::function<void(const std::string&)> warn);

  size_t max_batch() const override { return o_.batch_size; }
  int64_t batch_window_ms() const override { return o_.batch_window_ms; }
  Result<bool> Handle(uint64_t shard, const RecordBatch& records, const Context& ctx) override;
  Result<bool> Flush() override { return true; }
  const ExecStats& stats() const { return stats_; }

 private:
  // Handles records [begin, end): false when stopped before it was settled.
  Result<bool> Settle(uint64_t shard, const RecordBatch& records, size_t begin, size_t end,
                      const Context& ctx);
  Result<CommandResult> RunOnce(uint64_t shard, const RecordBatch& records, size_t begin,
                                size_t end, int attempt, const Context& ctx);
  // Sleeps before retry `attempt`, keeping leases alive; false if stopped.
  Result<bool> Backoff(int attempt, const Context& ctx);

  ExecOptions o_;
  std::unique_ptr<FailureSink> failures_;
  Env* env_;
  std::function<void(const std::string&)> warn_;
  ExecStats stats_;
};

}  // namespace kstream
