// kstream-window: windowed aggregation of NDJSON or CSV records (the Spark
// Streaming / Kinesis Analytics role), from standard input or a stream.
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "cli/tool.h"
#include "core/stop_flag.h"
#include "core/text.h"
#include "store/local_lease_table.h"
#include "store/local_store.h"
#include "window/flags.h"
#include "window/group_handler.h"
#include "window/runner.h"

using namespace kstream;
using namespace kstream::window;

namespace {

constexpr char kTool[] = "kstream-window";
constexpr char kExamples[] = R"(Examples:
  kstream-get sensors -f | kstream-window --tumbling 5s --group-by device --avg temperature
  kstream-window --stream sensors --endpoint http://127.0.0.1:4567 --tumbling 5s --count
  kstream-window --tumbling 1m --time-field timestamp --group-by payerId --sum value < metering.ndjson
  kstream-window --sliding 1m --every 10s --percentile latency:50,99 --group-by endpoint < requests.ndjson
  kstream-window --session 30m --time-field ts --group-by user --count --distinct page < clicks.ndjson
  kstream-window --csv --tumbling 5s --time-field timestamp --group-by Device_Id --max temperature < iot.csv
  kstream-window --tumbling 5s --where 'text contains "Open-Source"' --emit-empty < tweets.ndjson
  kstream-window --stream games --tumbling 1m --top 10:player -f
  kstream-window --stream sensors --group dash -f --tumbling 1m --time-field ts --group-by device
)";

StopFlag g_stop{false};

void AddWindowFlags(CLI::App& app, WindowFlags& f) {
  app.add_option("--tumbling", f.tumbling, "Fixed windows of this length (5s, 1m, 500ms)")
      ->type_name("D")
      ->group("Windows");
  app.add_option("--sliding", f.sliding, "Overlapping windows of this length (with --every)")
      ->type_name("D")
      ->group("Windows");
  app.add_option("--every", f.every, "Slide of --sliding windows: a window starts every S")
      ->type_name("S")
      ->group("Windows");
  app.add_option("--session", f.session, "Per-group sessions that end after GAP without records")
      ->type_name("GAP")
      ->group("Windows");
  app.add_option("--time-field", f.time_field,
                 "Event time from this field (default: processing time)")
      ->type_name("F")
      ->group("Time");
  app.add_option("--time-format", f.time_format,
                 "auto, epoch, epoch_ms, epoch_us, epoch_ns, iso8601, or a pattern like "
                 "'%Y-%m-%d %H:%M:%S'")
      ->type_name("FMT")
      ->capture_default_str()
      ->group("Time");
  app.add_option("--allowed-lateness", f.allowed_lateness,
                 "Event time: keep windows open this long past their end (default 0)")
      ->type_name("D")
      ->group("Time");
  app.add_flag("--emit-empty", f.emit_empty, "Also print windows without records (no --group-by)")
      ->group("Time");
  app.add_option("-g,--group-by", f.group_by, "Group by these fields (F or F,G; dotted paths)")
      ->type_name("F[,F]")
      ->group("Aggregates");
  app.add_flag("-c,--count", f.count, "Count records (the default aggregate)")->group("Aggregates");
  app.add_option("--sum", f.sum, "Sum of F")->type_name("F")->group("Aggregates");
  app.add_option("--avg", f.avg, "Average of F")->type_name("F")->group("Aggregates");
  app.add_option("--min", f.min, "Minimum of F")->type_name("F")->group("Aggregates");
  app.add_option("--max", f.max, "Maximum of F")->type_name("F")->group("Aggregates");
  app.add_option("--distinct", f.distinct, "Approximate distinct values of F (HyperLogLog, < 2%)")
      ->type_name("F")
      ->group("Aggregates");
  app.add_option("--top", f.top, "The K most frequent values of F, with counts")
      ->type_name("K:F")
      ->group("Aggregates");
  app.add_option("--percentile", f.percentile, "Percentiles of F (rank error < 1%)")
      ->type_name("F:P[,P]")
      ->group("Aggregates");
  app.add_option("-w,--where", f.where,
                 "Only records where EXPR holds: == != < <= > >= contains startswith endswith "
                 "=~ && || ! ( )")
      ->type_name("EXPR")
      ->group("Aggregates");
  app.add_flag("--csv", f.csv, "Input is CSV with a header line")->group("Input");
  app.add_option("--delimiter", f.delimiter, "CSV delimiter (default ','; 'tab' for tabs)")
      ->type_name("C")
      ->group("Input");
  app.add_option("--header", f.header, "CSV column names, when the input has no header line")
      ->type_name("A,B,C")
      ->group("Input");
}

// --group and its companions: usage errors.
Status CheckGroup(const CLI::App& app, const StreamInput& in, const std::string& lease_timeout,
                  GroupOptions& g) {
  if (g.group.empty()) {
    for (const char* flag : {"--worker", "--lease-timeout"})
      if (app.get_option(flag)->count() > 0)
        return Status::InvalidArgument(std::string(flag) + " needs --group");
    return Status::Ok();
  }
  if (in.stream.empty()) return Status::InvalidArgument("--group needs --stream");
  KS_RETURN_IF_ERROR(ValidateGroupName(g.group).Prefixed("--group"));
  KS_RETURN_IF_ERROR(InitialCheckpoint(in.start).status().Prefixed("--iterator"));
  if (g.worker.empty()) g.worker = DefaultWorkerId();
  g.start = in.start;
  g.follow = in.follow;
  g.deaggregate = in.deaggregate;
  auto lease = ParseDuration(lease_timeout);
  if (!lease.ok()) return lease.status().Prefixed("--lease-timeout");
  if (*lease < 300) return Status::InvalidArgument("--lease-timeout must be at least 300ms");
  g.lease_timeout_ms = *lease;
  return Status::Ok();
}

Status RunGroup(Backend& backend, GroupStore& groups, Processor& processor,
                const std::string& stream, GroupOptions& g, const RunOptions& run,
                RecordWriter& out, RunStats& stats, bool verbose) {
  if (verbose)
    g.log = [worker = g.worker](const std::string& line) {
      std::cerr << kTool << ": [" << worker << "] " << line << "\n";
    };
  KS_RETURN_IF_ERROR(backend.ListShards(stream).status());
  KS_ASSIGN_OR_RETURN(auto table, groups.OpenLeaseTable(stream, g.group));
  return RunOnGroup(processor, backend, *table, stream, g, Env::Default(), run, out, stats,
                    &g_stop);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Windowed aggregates of NDJSON or CSV records: one JSON line per window and group.",
               kTool};
  app.footer(kExamples);
  cli::CommonOptions common;
  cli::AddCommonOptions(app, common, kTool);
  cli::AddEndpointOption(app, common);
  WindowFlags flags;
  AddWindowFlags(app, flags);
  RunOptions run;
  StreamInput in;
  std::string iterator, timestamp;
  bool stats_flag = false;
  app.add_option("--stream", in.stream, "Read this stream from the store instead of stdin")
      ->type_name("NAME")
      ->group("Input");
  app.add_flag("-f,--follow", in.follow, "With --stream: keep reading new records")->group("Input");
  app.add_option("-i,--iterator", iterator,
                 "With --stream: TRIM_HORIZON (default), LATEST, AT_TIMESTAMP")
      ->type_name("TYPE")
      ->group("Input");
  app.add_option("--timestamp", timestamp, "With --iterator AT_TIMESTAMP")
      ->type_name("TIME")
      ->group("Input");
  bool no_deaggregate = false;
  app.add_flag("--no-deaggregate", no_deaggregate,
               "With --stream: read KPL aggregated records as stored, not their user records")
      ->group("Input");
  GroupOptions group;
  std::string lease_timeout = "10s";
  app.add_option("--group", group.group,
                 "With --stream: read as a worker of this consumer group (leases, checkpoints "
                 "after emitted windows; instances split the shards)")
      ->type_name("APP")
      ->group("Input");
  app.add_option("--worker", group.worker, "With --group: worker id (default: hostname:pid)")
      ->type_name("ID")
      ->group("Input");
  app.add_option("--lease-timeout", lease_timeout,
                 "With --group: a lease not renewed for this long may be taken")
      ->type_name("D")
      ->capture_default_str()
      ->group("Input");
  app.add_flag("--strict", run.strict, "Stop at the first bad record, naming its line")
      ->group("Bad input");
  app.add_option("--late", run.late_file, "Write late records to FILE instead of dropping them")
      ->type_name("FILE")
      ->group("Bad input");
  app.add_flag("--stats", stats_flag, "Print counters as JSON on stderr at the end")
      ->group("Bad input");
  if (int rc = cli::Parse(app, argc, argv, kTool); rc >= 0) return rc;

  auto config = ConfigFromFlags(flags);
  if (!config.ok()) return cli::UsageError(kTool, config.status().message());
  if (in.stream.empty() && (in.follow || !iterator.empty() || !timestamp.empty() || no_deaggregate))
    return cli::UsageError(
        kTool, "--follow, --iterator, --timestamp and --no-deaggregate go with --stream");
  in.deaggregate = !no_deaggregate;
  if (!in.stream.empty()) {
    if (Status s = ValidateStreamName(in.stream); !s.ok())
      return cli::UsageError(kTool, s.message());
    auto type = ParseIteratorType(iterator.empty() ? "TRIM_HORIZON" : iterator);
    if (!type.ok()) return cli::UsageError(kTool, type.status().message());
    if (*type == IteratorType::kAtSequenceNumber || *type == IteratorType::kAfterSequenceNumber)
      return cli::UsageError(kTool, "--iterator: use TRIM_HORIZON, LATEST or AT_TIMESTAMP");
    if ((*type == IteratorType::kAtTimestamp) != !timestamp.empty())
      return cli::UsageError(kTool, "--iterator AT_TIMESTAMP and --timestamp go together");
    in.start.type = *type;
    if (!timestamp.empty()) {
      auto ts = ParseTimestamp(timestamp);
      if (!ts.ok()) return cli::UsageError(kTool, ts.status().message());
      in.start.timestamp_ms = *ts;
    }
  }
  if (Status s = CheckGroup(app, in, lease_timeout, group); !s.ok())
    return cli::UsageError(kTool, s.message());
  auto processor = Processor::Create(*config, /*external_watermark=*/!in.stream.empty());
  if (!processor.ok()) return cli::UsageError(kTool, processor.status().message());
  run.idle_lag_ms = 500 + config->allowed_lateness_ms;

  cli::InstallStopHandlers(&g_stop);
  RecordWriter out(STDOUT_FILENO, OutputFormat::kLines);
  RunStats stats;
  const auto started = std::chrono::steady_clock::now();
  Status s;
  if (in.stream.empty()) {
    s = RunOnInput(**processor, STDIN_FILENO, Env::Default(), run, out, stats, &g_stop);
  } else {
    auto backend = cli::OpenBackend(common);
    if (!backend.ok()) return cli::Fail(kTool, backend.status());
    if (!group.group.empty()) {
      auto groups = cli::OpenGroupStore(common, **backend);
      if (!groups.ok()) return cli::Fail(kTool, groups.status());
      s = RunGroup(**backend, **groups, **processor, in.stream, group, run, out, stats,
                   common.verbose);
    } else {
      s = RunOnStream(**processor, **backend, in, Env::Default(), run, out, stats, &g_stop);
    }
  }
  if (!common.quiet) {
    if (stats.invalid > 0)
      std::cerr << kTool << ": skipped " << stats.invalid
                << " invalid record(s); first: " << stats.first_invalid
                << " (use --strict to stop at the first)\n";
    if (stats.late > 0)
      std::cerr << kTool << ": " << stats.late << " late record(s) "
                << (run.late_file.empty() ? "dropped" : "written to " + run.late_file) << "\n";
    if (stats.corrupt > 0)
      std::cerr << kTool << ": warning: skipped " << stats.corrupt << " damaged record(s)\n";
    if (stats.malformed > 0)
      std::cerr << kTool << ": warning: " << stats.malformed
                << " malformed KPL aggregated record(s) read as they are\n";
  }
  if (stats_flag)
    std::cerr << "{\"records\":" << stats.records << ",\"aggregated\":" << stats.aggregated
              << ",\"filtered\":" << stats.filtered << ",\"invalid\":" << stats.invalid
              << ",\"late\":" << stats.late << ",\"windows\":" << stats.windows
              << ",\"lines\":" << stats.lines << "}\n";
  if (common.verbose) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cerr << kTool << ": " << stats.records << " records, " << stats.windows << " windows, "
              << stats.lines << " lines in " << secs << " s\n";
  }
  if (!s.ok()) return cli::Fail(kTool, s);
  return cli::kExitOk;
}
