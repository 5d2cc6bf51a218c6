// kstream-put: records from stdin into a stream (the producer / KPL role).
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "cli/progress.h"
#include "cli/tool.h"
#include "core/stop_flag.h"
#include "core/text.h"
#include "kpl/aggregate.h"
#include "produce/failed_log.h"
#include "produce/producer.h"
#include "store/local_store.h"

using namespace kstream;

namespace {

constexpr char kTool[] = "kstream-put";
constexpr char kExamples[] = R"(Examples:
  tail -F /var/log/app.log | kstream-put logs
  kstream-put logs --endpoint https://kinesis.eu-west-1.amazonaws.com < lines.txt
  kstream-put logs --endpoint $URL --rate-limit 100 --record-ttl 1m --failed late.ndjson
  kstream-put events --key-field user.id < events.ndjson
  printf 'hello\n' | kstream-put logs -k web-1 --sync always --print
  kstream-put logs --json < entries.ndjson     # {"PartitionKey":..,"Data":"<base64>"}
  kstream-put metrics --aggregate --stats < small-records.txt   # KPL aggregation
  kstream-put logs --skip-invalid --failed rejected.ndjson < input.ndjson
)";

StopFlag g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Put records from standard input into a stream, one per line.", kTool};
  app.footer(kExamples);
  cli::CommonOptions common;
  cli::AddCommonOptions(app, common, kTool);
  cli::AddEndpointOption(app, common);
  std::string stream, partition_key, key_field, explicit_hash_key, sync = "batch", linger = "0ms";
  std::string batch_bytes = "4MiB", aggregate_max_size = "51200", failed_file;
  bool json = false, null_delimited = false, print_stats = false;
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
  auto* linger_opt = app.add_option("--linger", linger,
                                    "Longest a record waits to be batched (RecordMaxBufferedTime; "
                                    "default 0ms, 100ms with --aggregate)")
                         ->type_name("DURATION");
  app.add_option("--batch-records", o.batch_records,
                 "Most Kinesis records per write (CollectionMaxCount)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--batch-bytes", batch_bytes, "Most bytes per write (CollectionMaxSize)")
      ->type_name("SIZE")
      ->capture_default_str();
  app.add_flag("-a,--aggregate", o.aggregate,
               "Pack records bound for one shard into KPL aggregated records");
  app.add_option("--aggregate-max-count", o.aggregation.max_count,
                 "Most user records per aggregate (AggregationMaxCount)")
      ->check(CLI::Range(uint64_t(1), kpl::kDefaultMaxCount))
      ->capture_default_str();
  app.add_option("--aggregate-max-size", aggregate_max_size,
                 "Most bytes per aggregated record (AggregationMaxSize, at most 1MiB)")
      ->type_name("SIZE")
      ->capture_default_str();
  remote::PutPolicy put_policy;
  std::string record_ttl = "30s";
  app.add_option("--rate-limit", put_policy.rate_limit_pct,
                 "With --endpoint: records and bytes per shard and second, in % of the shard's "
                 "limits (RateLimit; 0: off)")
      ->type_name("PCT")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--record-ttl", record_ttl,
                 "With --endpoint: a record not written within this long fails (RecordTtl)")
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_flag("--fail-if-throttled", put_policy.fail_if_throttled,
               "With --endpoint: a throttled record fails instead of being retried "
               "(FailIfThrottled)");
  app.add_option("--failed", failed_file,
                 "Append records not written to FILE, one JSON line each "
                 "(default: write errors to stderr)")
      ->type_name("FILE");
  app.add_flag("--stats", print_stats,
               "Print counters on stderr at the end: user and Kinesis records, aggregation "
               "ratio, retries, throttles, latency percentiles");
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
  // Locally a write costs little, so records go out as soon as input pauses;
  // aggregation only pays if a trickle is held a while, as the KPL holds it.
  if (o.aggregate && linger_opt->count() == 0) linger = "100ms";
  auto linger_ms = ParseDuration(linger);
  if (!linger_ms.ok()) return cli::UsageError(kTool, "--linger: " + linger_ms.status().message());
  o.linger_ms = *linger_ms;
  auto ttl_ms = ParseDuration(record_ttl);
  if (!ttl_ms.ok() || *ttl_ms < 100)
    return cli::UsageError(kTool,
                           "--record-ttl: " + (ttl_ms.ok() ? std::string("must be 100ms or more")
                                                           : ttl_ms.status().message()));
  put_policy.record_ttl_ms = *ttl_ms;
  auto bytes = ParseSize(batch_bytes);
  if (!bytes.ok() || *bytes == 0)
    return cli::UsageError(kTool, "--batch-bytes: " + (bytes.ok() ? std::string("must be positive")
                                                                  : bytes.status().message()));
  o.batch_bytes = *bytes;
  auto max_size = ParseSize(aggregate_max_size);
  if (!max_size.ok() || *max_size < 64 || *max_size > kMaxRecordBytes)
    return cli::UsageError(
        kTool, "--aggregate-max-size: " + (max_size.ok() ? std::string("must be 64 to 1MiB")
                                                         : max_size.status().message()));
  // The Kinesis record also carries the one-byte partition key "a".
  o.aggregation.max_size = std::min<size_t>(*max_size, kMaxRecordBytes - 1);
  o.sync = ParseSyncMode(sync).value();

  cli::InstallStopHandlers(&g_stop);
  cli::Progress progress(kTool, common.quiet);
  auto backend = cli::OpenBackend(common, put_policy);
  if (!backend.ok()) return cli::Fail(kTool, backend.status());
  auto writer = (*backend)->OpenWriter(stream, o.sync);
  if (!writer.ok()) return cli::Fail(kTool, writer.status());
  o.on_progress = [&](const ProducerStats& st) {
    if (!progress.Due()) return;
    std::string text = std::to_string(st.records) + " records";
    char part[96];
    std::snprintf(part, sizeof part, "  %.1f MB", double(st.bytes) / 1e6);
    text += part;
    if (o.aggregate) {
      std::snprintf(part, sizeof part, "  %llu Kinesis records (ratio %.1f)",
                    static_cast<unsigned long long>(st.kinesis_records),
                    st.kinesis_records ? double(st.records) / double(st.kinesis_records) : 0.0);
      text += part;
    }
    if (common.remote()) {
      const auto& c = (*writer)->counters();
      text += "  " + std::to_string(c.retries) + " retries  " + std::to_string(c.throttles) +
              " throttles";
    }
    text += "  p99 " + std::to_string(st.latency.Percentile(0.99)) + " ms";
    progress.Show(text.c_str(), st.records);
  };
  o.list_shards = [&] { return (*backend)->ListShards(stream); };
  FailedRecordLog failed(Env::Default(), failed_file);
  if (Status s = failed.Open(); !s.ok()) return cli::Fail(kTool, s.Prefixed("--failed"));
  o.on_failed = [&](const FailedRecord& f) { failed.Add(f); };

  const auto started = std::chrono::steady_clock::now();
  // JSON entries carry base64 data, a third larger than the record itself.
  RecordReader input(STDIN_FILENO, null_delimited ? '\0' : '\n',
                     json ? kMaxRecordBytes * 4 / 3 + 4096 : kMaxRecordBytes);
  input.set_interrupt_fd(cli::StopFd());
  RecordWriter results(STDOUT_FILENO, OutputFormat::kLines);
  ProducerStats stats;
  Status s = RunProducer(**writer, input, o, results, stats, Env::Default(), &g_stop);
  progress.Finish();
  Status logged = failed.Close();
  if (print_stats) {
    std::string line;
    AppendProducerStats(line, stats, (*writer)->counters().retries,
                        (*writer)->counters().throttles);
    std::cerr << line;
  }
  if (!logged.ok()) cli::Fail(kTool, logged.Prefixed("--failed"));
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
    if (!common.quiet) {
      std::cerr << kTool << ": " << stats.records << " record(s) were written before the error\n";
      if (stats.failed > 0)
        std::cerr << kTool << ": " << stats.failed << " record(s) failed to be written ("
                  << (failed_file.empty() ? "listed above" : "listed in " + failed_file) << ")\n";
    }
    return cli::kExitFailure;
  }
  return logged.ok() ? cli::kExitOk : cli::kExitFailure;
}
