// kstream-get: records from a stream to stdout (the consumer / KCL role).
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "cli/progress.h"
#include "cli/tool.h"
#include "consume/consumer.h"
#include "core/text.h"
#include "store/local_store.h"

using namespace kstream;

namespace {

constexpr char kTool[] = "kstream-get";
constexpr char kExamples[] = R"(Examples:
  kstream-get logs                                   # every record, then exit
  kstream-get logs --follow | grep ERROR             # like tail -f
  kstream-get logs --shard shardId-000000000003 -f --json
  kstream-get logs -i AT_TIMESTAMP --timestamp 2024-05-01T12:00:00Z -n 10
  kstream-get logs -i AFTER_SEQUENCE_NUMBER --sequence-number 18446744073709551620
)";

volatile bool g_stop = false;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Read records from a stream to standard output, one per line.", kTool};
  app.footer(kExamples);
  cli::CommonOptions common;
  cli::AddCommonOptions(app, common, kTool);
  std::string stream, iterator = "TRIM_HORIZON", sequence, timestamp;
  std::vector<std::string> shard_ids;
  bool json = false, null_delimited = false;
  int64_t limit = -1;
  ConsumerOptions o;
  app.add_option("stream", stream, "Stream to read")->required();
  app.add_option("-s,--shard", shard_ids, "Read only this shard (repeatable)")->type_name("ID");
  app.add_option("-i,--iterator", iterator,
                 "Where to start: TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, "
                 "AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP")
      ->type_name("TYPE")
      ->capture_default_str();
  app.add_option("--sequence-number", sequence, "For AT_/AFTER_SEQUENCE_NUMBER")->type_name("SEQ");
  app.add_option("--timestamp", timestamp,
                 "For AT_TIMESTAMP: ISO-8601, epoch seconds, or epoch ms with 'ms'")
      ->type_name("TIME");
  app.add_flag("-f,--follow", o.follow, "Keep waiting for new records, like tail -f");
  app.add_option("-n,--limit", limit, "Stop after N records")
      ->type_name("N")
      ->check(CLI::Validator(
          [](std::string& v) {
            return !v.empty() && v.find_first_not_of("0123456789") == std::string::npos
                       ? std::string()
                       : "must be a whole number of records, 0 or more";
          },
          "N"));
  app.add_flag("--json", json, "Print each record as a Kinesis-style JSON envelope");
  app.add_flag("-0,--null", null_delimited, "End records with NUL instead of newline");
  app.add_flag("--ordered", o.ordered, "Merge all shards by arrival time");
  if (int rc = cli::Parse(app, argc, argv, kTool); rc >= 0) return rc;
  if (Status s = ValidateStreamName(stream); !s.ok()) return cli::UsageError(kTool, s.message());
  if (json && null_delimited) return cli::UsageError(kTool, "--json and --null exclude each other");

  auto type = ParseIteratorType(iterator);
  if (!type.ok()) return cli::UsageError(kTool, type.status().message());
  o.start.type = *type;
  const bool needs_seq = *type == IteratorType::kAtSequenceNumber ||
                         *type == IteratorType::kAfterSequenceNumber;
  if (needs_seq != !sequence.empty())
    return cli::UsageError(kTool, needs_seq ? "--iterator " + iterator + " needs --sequence-number"
                                            : "--sequence-number needs --iterator "
                                              "AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER");
  if ((*type == IteratorType::kAtTimestamp) != !timestamp.empty())
    return cli::UsageError(kTool, timestamp.empty() ? "--iterator AT_TIMESTAMP needs --timestamp"
                                                    : "--timestamp needs --iterator AT_TIMESTAMP");
  if (needs_seq) {
    auto seq = ParseDecimal128(sequence, "sequence number");
    if (!seq.ok()) return cli::UsageError(kTool, seq.status().message());
    o.start.sequence = *seq;
  }
  if (!timestamp.empty()) {
    auto ts = ParseTimestamp(timestamp);
    if (!ts.ok()) return cli::UsageError(kTool, ts.status().message());
    if (*ts > Env::Default()->NowMillis())
      return cli::UsageError(kTool, "--timestamp is in the future");
    o.start.timestamp_ms = *ts;
  }
  for (const auto& id : shard_ids) {
    auto index = ParseShardId(id);
    if (!index.ok()) return cli::UsageError(kTool, index.status().message());
    o.shards.push_back(*index);
  }
  // A sequence number belongs to one shard: read that one.
  if (needs_seq && o.shards.empty()) o.shards.push_back(SequenceShardIndex(o.start.sequence));
  if (limit >= 0) o.limit = uint64_t(limit);
  if (limit == 0) return cli::kExitOk;

  cli::InstallStopHandlers(&g_stop);
  cli::Progress progress(kTool, common.quiet);
  o.on_progress = [&](const auto& st) { progress.Update(st.records, st.bytes); };
  LocalStore store(Env::Default(), common.StoreRoot());
  RecordWriter out(STDOUT_FILENO, json ? OutputFormat::kJson
                                  : null_delimited ? OutputFormat::kNull
                                                   : OutputFormat::kLines);
  ConsumerStats stats;
  const auto started = std::chrono::steady_clock::now();
  Status s = RunConsumer(store, stream, o, out, stats, &g_stop);
  progress.Finish();
  if (stats.corrupt > 0 && !common.quiet)
    std::cerr << kTool << ": warning: skipped " << stats.corrupt
              << " damaged record(s) (CRC mismatch)\n";
  if (common.verbose) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cerr << kTool << ": " << stats.records << " records, " << stats.bytes << " bytes in "
              << secs << " s\n";
  }
  if (!s.ok()) return cli::Fail(kTool, s);
  return cli::kExitOk;
}
