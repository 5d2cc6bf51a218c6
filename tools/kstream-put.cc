// kstream-put: records from stdin into a stream (the producer / KPL role).
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "cli/progress.h"
#include "cli/tool.h"
#include "core/stop_flag.h"
#include "core/text.h"
#include "produce/producer.h"
#include "store/local_store.h"

using namespace kstream;

namespace {

constexpr char kTool[] = "kstream-put";
constexpr char kExamples[] = R"(Examples:
  tail -F /var/log/app.log | kstream-put logs
  kstream-put events --key-field user.id < events.ndjson
  printf 'hello\n' | kstream-put logs -k web-1 --sync always --print
  kstream-put logs --json < entries.ndjson     # {"PartitionKey":..,"Data":"<base64>"}
)";

StopFlag g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Put records from standard input into a stream, one per line.", kTool};
  app.footer(kExamples);
  cli::CommonOptions common;
  cli::AddCommonOptions(app, common, kTool);
  std::string stream, partition_key, key_field, explicit_hash_key, sync = "batch", linger = "0ms";
  bool json = false, null_delimited = false;
  ProducerOptions o;
  app.add_option("stream", stream, "Stream to write to")->required();
  auto* key_opt = app.add_option("-k,--partition-key", partition_key,
                                 "Partition key for every record (default: random per record)");
  auto* field_opt = app.add_option("-K,--key-field", key_field,
                                   "Partition key from this JSON field of each line (dotted path)")
                        ->type_name("FIELD");
  auto* json_opt = app.add_flag("--json", json,
                                "Lines are put-records entries: "
                                "{\"PartitionKey\",\"Data\" (base64),\"ExplicitHashKey\"?}");
  key_opt->excludes(field_opt)->excludes(json_opt);
  field_opt->excludes(json_opt);
  app.add_option("-E,--explicit-hash-key", explicit_hash_key,
                 "Route every record by this decimal hash key instead of the key's MD5")
      ->type_name("HASH");
  app.add_flag("-0,--null", null_delimited, "Records end with NUL instead of newline");
  app.add_option("--sync", sync, "Durability before a record counts as written")
      ->check(CLI::IsMember({"always", "batch", "never"}))
      ->capture_default_str();
  app.add_option("--linger", linger, "Longest a record waits to be batched")
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--batch-records", o.batch_records, "Most records per write")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_flag("-p,--print", o.print_results,
               "Print {\"ShardId\",\"SequenceNumber\"} per record once it is durable");
  app.add_flag("--skip-invalid", o.skip_invalid,
               "Skip invalid lines (counted) instead of stopping");
  if (int rc = cli::Parse(app, argc, argv, kTool); rc >= 0) return rc;
  if (Status s = ValidateStreamName(stream); !s.ok()) return cli::UsageError(kTool, s.message());

  if (!key_field.empty()) {
    auto path = FieldPath::Parse(key_field);
    if (!path.ok()) return cli::UsageError(kTool, path.status().message());
    o.key_source = KeySource::kField;
    o.key_field = *path;
  } else if (key_opt->count() > 0) {
    if (Status s = CheckRecordLimits(partition_key, 0); !s.ok())
      return cli::UsageError(kTool, "--partition-key: " + s.message());
    o.key_source = KeySource::kFixed;
    o.fixed_key = partition_key;
  } else if (json) {
    o.key_source = KeySource::kJsonEntry;
  }
  if (!explicit_hash_key.empty()) {
    auto h = ParseDecimal128(explicit_hash_key, "--explicit-hash-key");
    if (!h.ok()) return cli::UsageError(kTool, h.status().message());
    o.explicit_hash_key = *h;
  }
  auto linger_ms = ParseDuration(linger);
  if (!linger_ms.ok()) return cli::UsageError(kTool, "--linger: " + linger_ms.status().message());
  o.linger_ms = *linger_ms;
  o.sync = ParseSyncMode(sync).value();

  cli::InstallStopHandlers(&g_stop);
  cli::Progress progress(kTool, common.quiet);
  o.on_progress = [&](const auto& st) { progress.Update(st.records, st.bytes); };
  LocalStore store(Env::Default(), common.StoreRoot());
  auto writer = store.OpenWriter(stream, o.sync);
  if (!writer.ok()) return cli::Fail(kTool, writer.status());

  const auto started = std::chrono::steady_clock::now();
  // JSON entries carry base64 data, a third larger than the record itself.
  RecordReader input(STDIN_FILENO, null_delimited ? '\0' : '\n',
                     json ? kMaxRecordBytes * 4 / 3 + 4096 : kMaxRecordBytes);
  input.set_interrupt_fd(cli::StopFd());
  RecordWriter results(STDOUT_FILENO, OutputFormat::kLines);
  ProducerStats stats;
  Status s = RunProducer(**writer, input, o, results, stats, Env::Default(), &g_stop);
  progress.Finish();
  if (stats.skipped > 0 && !common.quiet)
    std::cerr << kTool << ": skipped " << stats.skipped
              << " invalid record(s); first: " << stats.first_skip_reason << "\n";
  if (common.verbose) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cerr << kTool << ": " << stats.records << " records, " << stats.bytes << " bytes to '"
              << stream << "' in " << secs << " s\n";
  }
  if (!s.ok()) {
    cli::Fail(kTool, s);
    if (!common.quiet)
      std::cerr << kTool << ": " << stats.records << " record(s) were written before the error\n";
    return cli::kExitFailure;
  }
  return cli::kExitOk;
}
