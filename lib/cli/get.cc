#include "cli/get.h"

#include <unistd.h>

#include <chrono>
#include <iostream>

#include "cli/progress.h"
#include "consume/consumer.h"
#include "consume/exec_handler.h"
#include "consume/group_worker.h"
#include "core/stop_flag.h"
#include "core/text.h"
#include "store/local_lease_table.h"
#include "store/local_store.h"

namespace kstream::cli {

void AddGetOptions(CLI::App& app, GetCommand& c) {
  app.add_option("stream", c.stream, "Stream to read")->required();
  app.add_option("-s,--shard", c.shard_ids, "Read only this shard (repeatable)")->type_name("ID");
  app.add_option("-i,--iterator", c.iterator,
                 "Where to start: TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, "
                 "AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP (with --group: where a new group starts)")
      ->type_name("TYPE")
      ->capture_default_str();
  app.add_option("--sequence-number", c.sequence, "For AT_/AFTER_SEQUENCE_NUMBER")
      ->type_name("SEQ");
  app.add_option("--timestamp", c.timestamp,
                 "For AT_TIMESTAMP: ISO-8601, epoch seconds, or epoch ms with 'ms'")
      ->type_name("TIME");
  app.add_flag("-f,--follow", c.follow, "Keep waiting for new records, like tail -f");
  app.add_option("-n,--limit", c.limit, "Stop after N records")
      ->type_name("N")
      ->check(CLI::Validator(
          [](std::string& v) {
            return !v.empty() && v.find_first_not_of("0123456789") == std::string::npos
                       ? std::string()
                       : "must be a whole number of records, 0 or more";
          },
          "N"));
  app.add_flag("--json", c.json, "Print each record as a Kinesis-style JSON envelope");
  app.add_flag("-0,--null", c.null_delimited, "End records with NUL instead of newline");
  app.add_flag("--ordered", c.ordered, "Merge all shards by arrival time");
  app.add_flag("--no-deaggregate", c.no_deaggregate,
               "KPL aggregated records as stored, not their user records");
  app.add_option("-g,--group", c.group,
                 "Consume as a worker of this consumer group: leases and checkpoints")
      ->type_name("APP");
  app.add_option("--worker", c.worker, "Worker id in the group (default: hostname:pid)")
      ->type_name("ID");
  app.add_option("--lease-timeout", c.lease_timeout,
                 "A lease not renewed for this long may be taken (renewed every third of it)")
      ->type_name("DUR")
      ->capture_default_str();
  app.add_option("--checkpoint-interval", c.checkpoint_interval,
                 "Write checkpoints at most this often (and at shard end and exit)")
      ->type_name("DUR")
      ->capture_default_str();
  app.add_option("--exec", c.exec, "Run CMD (with sh -c) per batch, the records on its stdin")
      ->type_name("CMD");
  app.add_option("--batch-size", c.batch_size, "--exec: most records per batch")
      ->type_name("N")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--batch-window", c.batch_window,
                 "--exec: longest wait for a batch to fill while following")
      ->type_name("DUR")
      ->capture_default_str();
  app.add_option("--max-retries", c.max_retries, "--exec: retries of a failing batch")
      ->type_name("N")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_flag("--bisect-on-error", c.bisect,
               "--exec: split a batch that keeps failing in halves to isolate bad records");
  app.add_option("--on-failure", c.on_failure,
                 "--exec: where batches that keep failing go (else the worker stops)")
      ->type_name("FILE|stream:NAME");
}

Status ParseStart(const std::string& iterator, const std::string& sequence,
                  const std::string& timestamp, StartPosition& start) {
  KS_ASSIGN_OR_RETURN(start.type, ParseIteratorType(iterator));
  const bool needs_seq = start.type == IteratorType::kAtSequenceNumber ||
                         start.type == IteratorType::kAfterSequenceNumber;
  if (needs_seq != !sequence.empty())
    return Status::InvalidArgument(needs_seq ? "--iterator " + iterator + " needs --sequence-number"
                                             : "--sequence-number needs --iterator "
                                               "AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER");
  if ((start.type == IteratorType::kAtTimestamp) != !timestamp.empty())
    return Status::InvalidArgument(timestamp.empty() ? "--iterator AT_TIMESTAMP needs --timestamp"
                                                     : "--timestamp needs --iterator AT_TIMESTAMP");
  if (needs_seq) {
    KS_ASSIGN_OR_RETURN(start.sequence, SequenceNumber::Parse(sequence, "sequence number"));
  }
  if (!timestamp.empty()) {
    KS_ASSIGN_OR_RETURN(start.timestamp_ms, ParseTimestamp(timestamp));
    if (start.timestamp_ms > Env::Default()->NowMillis())
      return Status::InvalidArgument("--timestamp is in the future");
  }
  return Status::Ok();
}

namespace {

struct Checked {
  ConsumerOptions read;
  GroupOptions group;
  ExecOptions exec;
  OutputFormat format = OutputFormat::kLines;
};

bool Given(const CLI::App& app, const char* name) {
  return app.get_option(name)->count() > 0;
}

Status CheckDuration(const std::string& text, const char* flag, int64_t min_ms, int64_t& out) {
  auto ms = ParseDuration(text);
  if (!ms.ok()) return ms.status().Prefixed(flag);
  if (*ms < min_ms)
    return Status::InvalidArgument(std::string(flag) + " must be at least " +
                                   std::to_string(min_ms) + "ms");
  out = *ms;
  return Status::Ok();
}

Status CheckGroup(const CLI::App& app, const GetCommand& c, Checked& k) {
  if (c.group.empty()) {
    for (const char* flag : {"--worker", "--lease-timeout", "--checkpoint-interval", "--exec"})
      if (Given(app, flag)) return Status::InvalidArgument(std::string(flag) + " needs --group");
    return Status::Ok();
  }
  KS_RETURN_IF_ERROR(ValidateGroupName(c.group));
  if (!c.shard_ids.empty())
    return Status::InvalidArgument("--group and --shard exclude each other");
  if (c.ordered) return Status::InvalidArgument("--group and --ordered exclude each other");
  KS_RETURN_IF_ERROR(InitialCheckpoint(k.read.start).status().Prefixed("--group"));
  GroupOptions& g = k.group;
  g.group = c.group;
  g.worker = c.worker.empty() ? DefaultWorkerId() : c.worker;
  g.start = k.read.start;
  g.follow = c.follow;
  g.deaggregate = k.read.deaggregate;
  g.limit = k.read.limit;
  KS_RETURN_IF_ERROR(CheckDuration(c.lease_timeout, "--lease-timeout", 300, g.lease_timeout_ms));
  KS_RETURN_IF_ERROR(
      CheckDuration(c.checkpoint_interval, "--checkpoint-interval", 0, g.checkpoint_interval_ms));
  return Status::Ok();
}

Status CheckExec(const CLI::App& app, const GetCommand& c, Checked& k) {
  if (c.exec.empty()) {
    for (const char* flag :
         {"--batch-size", "--batch-window", "--max-retries", "--bisect-on-error", "--on-failure"})
      if (Given(app, flag)) return Status::InvalidArgument(std::string(flag) + " needs --exec");
    return Status::Ok();
  }
  ExecOptions& e = k.exec;
  e.command = c.exec;
  e.format = k.format;
  e.batch_size = size_t(c.batch_size);
  e.max_retries = c.max_retries;
  e.bisect = c.bisect;
  e.stream = c.stream;
  e.group = k.group.group;
  e.worker = k.group.worker;
  return CheckDuration(c.batch_window, "--batch-window", 0, e.batch_window_ms);
}

Status Check(const CLI::App& app, const GetCommand& c, Checked& k) {
  KS_RETURN_IF_ERROR(ValidateStreamName(c.stream));
  if (c.json && c.null_delimited)
    return Status::InvalidArgument("--json and --null exclude each other");
  k.format = c.json             ? OutputFormat::kJson
             : c.null_delimited ? OutputFormat::kNull
                                : OutputFormat::kLines;
  ConsumerOptions& o = k.read;
  KS_RETURN_IF_ERROR(ParseStart(c.iterator, c.sequence, c.timestamp, o.start));
  for (const auto& id : c.shard_ids) {
    KS_ASSIGN_OR_RETURN(uint64_t index, ParseShardId(id));
    o.shards.push_back(index);
  }
  // A sequence number belongs to one shard: read that one.
  const bool has_seq = !c.sequence.empty();
  if (has_seq && o.shards.empty()) {
    const std::optional<uint64_t> shard = SequenceShardIndex(o.start.sequence);
    if (!shard)
      return Status::InvalidArgument("sequence number " + c.sequence +
                                     " does not say which shard it is from: give --shard");
    o.shards.push_back(*shard);
  }
  o.follow = c.follow;
  o.ordered = c.ordered;
  o.deaggregate = !c.no_deaggregate;
  if (c.limit >= 0) o.limit = uint64_t(c.limit);
  KS_RETURN_IF_ERROR(CheckGroup(app, c, k));
  return CheckExec(app, c, k);
}

void PrintSummary(const std::string& tool, uint64_t records, uint64_t bytes,
                  std::chrono::steady_clock::time_point started) {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << tool << ": " << records << " records, " << bytes << " bytes in " << secs << " s\n";
}

void WarnCorrupt(const std::string& tool, uint64_t corrupt, uint64_t malformed, bool quiet) {
  if (quiet) return;
  if (corrupt > 0)
    std::cerr << tool << ": warning: skipped " << corrupt << " damaged record(s) (CRC mismatch)\n";
  if (malformed > 0)
    std::cerr << tool << ": warning: " << malformed
              << " malformed KPL aggregated record(s) passed on as they are\n";
}

// Where --exec batches that keep failing go, if anywhere.
Result<std::unique_ptr<FailureSink>> FailureSinkFor(const GetCommand& c, Backend& backend) {
  if (c.on_failure.empty()) return std::unique_ptr<FailureSink>();
  auto sink = OpenFailureSink(c.on_failure, backend, Env::Default());
  if (!sink.ok()) return sink.status().Prefixed("--on-failure");
  return sink;
}

int RunGroup(Backend& backend, GroupStore& groups, const GetCommand& c, Checked& k,
             const CommonOptions& common, const std::string& tool, const StopFlag* stop) {
  const std::string worker = k.group.worker;
  if (common.verbose)
    k.group.log = [&tool, worker](const std::string& line) {
      std::cerr << tool << ": [" << worker << "] " << line << "\n";
    };
  Progress progress(tool, common.quiet);
  k.group.on_progress = [&](const GroupStats& st) { progress.Update(st.records, st.bytes); };
  auto table = groups.OpenLeaseTable(c.stream, k.group.group);
  if (!table.ok()) return Fail(tool, table.status());
  RecordWriter out(STDOUT_FILENO, k.format);
  StdoutHandler printer(out);
  std::unique_ptr<ExecHandler> exec;
  if (!c.exec.empty()) {
    auto failures = FailureSinkFor(c, backend);
    if (!failures.ok()) return Fail(tool, failures.status());
    auto warn = [&tool, quiet = common.quiet](const std::string& message) {
      if (!quiet) std::cerr << tool << ": warning: " << message << "\n";
    };
    exec = std::make_unique<ExecHandler>(k.exec, std::move(*failures), Env::Default(), warn);
  }
  BatchHandler& handler = exec ? static_cast<BatchHandler&>(*exec) : printer;
  GroupStats stats;
  const auto started = std::chrono::steady_clock::now();
  Status s =
      RunGroupWorker(backend, **table, Env::Default(), c.stream, k.group, handler, stats, stop);
  progress.Finish();
  WarnCorrupt(tool, stats.corrupt, stats.malformed, common.quiet);
  if (common.verbose) {
    PrintSummary(tool, stats.records, stats.bytes, started);
    if (exec)
      std::cerr << tool << ": " << exec->stats().runs << " command runs, "
                << exec->stats().failed_runs << " failed, " << exec->stats().failed_records
                << " record(s) set aside\n";
  }
  if (!s.ok()) return Fail(tool, s);
  return kExitOk;
}

}  // namespace

int RunGet(const CLI::App& app, const GetCommand& c, const CommonOptions& common,
           const std::string& tool, const StopFlag* stop) {
  Checked k;
  if (Status s = Check(app, c, k); !s.ok()) return UsageError(tool, s.message());
  if (k.read.limit && *k.read.limit == 0) return kExitOk;
  auto backend = OpenBackend(common);
  if (!backend.ok()) return Fail(tool, backend.status());
  if (!c.group.empty()) {
    auto groups = OpenGroupStore(common, **backend);
    if (!groups.ok()) return Fail(tool, groups.status());
    return RunGroup(**backend, **groups, c, k, common, tool, stop);
  }

  Progress progress(tool, common.quiet);
  k.read.on_progress = [&](const auto& st) { progress.Update(st.records, st.bytes); };
  RecordWriter out(STDOUT_FILENO, k.format);
  ConsumerStats stats;
  const auto started = std::chrono::steady_clock::now();
  Status s = RunConsumer(**backend, c.stream, k.read, out, stats, stop);
  progress.Finish();
  WarnCorrupt(tool, stats.corrupt, stats.malformed, common.quiet);
  if (common.verbose) PrintSummary(tool, stats.records, stats.bytes, started);
  if (!s.ok()) return Fail(tool, s);
  return kExitOk;
}

}  // namespace kstream::cli
