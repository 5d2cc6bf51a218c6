#include "consume/exec_handler.h"

#include <poll.h>

#include <algorithm>

#include "core/text.h"

namespace kstream {

namespace {
constexpr int kPollMs = 100;  // how often leases get a chance to renew while waiting
}  // namespace

ExecHandler::ExecHandler(ExecOptions o, std::unique_ptr<FailureSink> failures, Env* env,
                         std::function<void(const std::string&)> warn)
    : o_(std::move(o)), failures_(std::move(failures)), env_(env), warn_(std::move(warn)) {}

Result<bool> ExecHandler::Handle(uint64_t shard, const RecordBatch& records, const Context& ctx) {
  return Settle(shard, records, 0, records.size(), ctx);
}

Result<bool> ExecHandler::Settle(uint64_t shard, const RecordBatch& records, size_t begin,
                                 size_t end, const Context& ctx) {
  std::string error;
  int attempts = 0;
  while (attempts <= o_.max_retries) {
    if (attempts > 0) {
      KS_ASSIGN_OR_RETURN(bool go, Backoff(attempts, ctx));
      if (!go) return false;
    }
    KS_ASSIGN_OR_RETURN(CommandResult r, RunOnce(shard, records, begin, end, ++attempts, ctx));
    if (r.ok) return true;
    error = r.error;
    if (ctx.stop && *ctx.stop) return false;  // stopping: the next owner runs it again
  }
  if (o_.bisect && end - begin > 1) {
    const size_t mid = begin + (end - begin) / 2;
    KS_ASSIGN_OR_RETURN(bool first, Settle(shard, records, begin, mid, ctx));
    if (!first) return false;
    return Settle(shard, records, mid, end, ctx);
  }
  const std::string what = "--exec command failed on " + std::to_string(end - begin) +
                           " record(s) of " + ShardIdFor(shard) + " (sequence numbers " +
                           ToDecimal(records[begin].sequence) + " to " +
                           ToDecimal(records[end - 1].sequence) + "): " + error + ", " +
                           std::to_string(attempts) + " attempt(s)";
  if (!failures_)
    return Status::FailedPrecondition(
        what +
        "; stopping, with everything before them checkpointed (--on-failure FILE or "
        "stream:NAME sets failing batches aside instead)");
  const FailureInfo info{o_.stream, o_.group, error, attempts, env_->NowMillis()};
  KS_RETURN_IF_ERROR(failures_->Put(shard, records, begin, end, info));
  stats_.failed_records += end - begin;
  if (warn_) warn_(what + "; sent to " + failures_->name());
  return true;
}

Result<CommandResult> ExecHandler::RunOnce(uint64_t shard, const RecordBatch& records, size_t begin,
                                           size_t end, int attempt, const Context& ctx) {
  KS_ASSIGN_OR_RETURN(TempInput input, TempInput::Create());
  RecordWriter writer(input.fd(), o_.format);
  for (size_t i = begin; i < end; ++i) writer.Write(shard, records[i]);
  KS_RETURN_IF_ERROR(writer.Flush().Prefixed("write the batch"));
  KS_RETURN_IF_ERROR(input.Rewind());
  const std::vector<std::string> env = {
      "KSTREAM_STREAM=" + o_.stream,
      "KSTREAM_GROUP=" + o_.group,
      "KSTREAM_WORKER=" + o_.worker,
      "KSTREAM_SHARD_ID=" + ShardIdFor(shard),
      "KSTREAM_FIRST_SEQUENCE=" + ToDecimal(records[begin].sequence),
      "KSTREAM_LAST_SEQUENCE=" + ToDecimal(records[end - 1].sequence),
      "KSTREAM_RECORD_COUNT=" + std::to_string(end - begin),
      "KSTREAM_ATTEMPT=" + std::to_string(attempt),
  };
  stats_.runs++;
  KS_ASSIGN_OR_RETURN(CommandResult r,
                      RunCommand(o_.command, input.fd(), env, ctx.keep_alive, kPollMs));
  if (!r.ok) stats_.failed_runs++;
  return r;
}

Result<bool> ExecHandler::Backoff(int attempt, const Context& ctx) {
  int64_t delay = o_.retry_backoff_ms;
  for (int i = 1; i < attempt && delay < kMaxBackoffMs; ++i) delay *= 2;
  delay = std::min(delay, kMaxBackoffMs);
  // A real sleep: the Env clock only decides lease times, not how long to nap.
  for (int64_t slept = 0; slept < delay; slept += kPollMs) {
    if (ctx.stop && *ctx.stop) return false;
    ::poll(nullptr, 0, int(std::min<int64_t>(kPollMs, delay - slept)));
    if (ctx.keep_alive) KS_RETURN_IF_ERROR(ctx.keep_alive());
  }
  return !(ctx.stop && *ctx.stop);
}

}  // namespace kstream
