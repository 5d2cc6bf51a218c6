#include "cli/agent.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "agent/agent.h"
#include "agent/config.h"
#include "cli/progress.h"
#include "core/env.h"
#include "core/stop_flag.h"
#include "core/text.h"

namespace kstream::cli {

using agent::AgentConfig;
using agent::FlowConfig;
using agent::OptionKind;
using agent::ProcessingOption;

namespace {

constexpr char kDefaultConfig[] = "/etc/aws-kinesis/agent.json";

// Builds the one flow of --file/--stream. Errors are usage errors.
Status FlowFromFlags(const AgentCommand& c, FlowConfig& f) {
  f.file_pattern = c.file;
  f.stream = c.stream;
  f.initial_position = c.initial_position == "START_OF_FILE" ? agent::InitialPosition::kStartOfFile
                                                             : agent::InitialPosition::kEndOfFile;
  f.partition_key = c.partition_key == "DETERMINISTIC" ? agent::PartitionKeyOption::kDeterministic
                                                       : agent::PartitionKeyOption::kRandom;
  f.multiline_start_pattern = c.multiline;
  f.skip_header_lines = c.skip_header_lines;
  KS_ASSIGN_OR_RETURN(f.max_buffer_age_ms, ParseDuration(c.max_buffer_age));
  if (f.max_buffer_age_ms < 1 || f.max_buffer_age_ms > 900000)
    return Status::InvalidArgument("--max-buffer-age: must be between 1ms and 15m");
  KS_ASSIGN_OR_RETURN(uint64_t bytes, ParseSize(c.max_buffer_bytes));
  if (bytes < 1 || bytes > 5242880)
    return Status::InvalidArgument("--max-buffer-bytes: must be between 1 and 5MiB");
  f.max_buffer_bytes = size_t(bytes);
  f.max_buffer_records = size_t(c.max_buffer_records);
  f.publish_queue_capacity = size_t(c.publish_queue_capacity);
  for (const auto& spec : c.formats) {
    ProcessingOption o;
    if (spec == "SINGLELINE") {
      o.kind = OptionKind::kSingleLine;
    } else if (spec == "CSVTOJSON") {
      o.kind = OptionKind::kCsvToJson;
      if (c.fields.empty()) return Status::InvalidArgument("--format CSVTOJSON needs --fields");
      o.field_names = c.fields;
      if (!c.delimiter.empty()) o.delimiter = c.delimiter;
    } else if (spec.starts_with("LOGTOJSON:")) {
      o.kind = OptionKind::kLogToJson;
      auto lf = agent::ParseLogFormat(spec.substr(10));
      if (!lf)
        return Status::InvalidArgument("--format: unknown log format '" + spec.substr(10) + "'");
      o.log_format = *lf;
      o.match_pattern = c.match_pattern;
      o.field_names = c.fields;
      o.send_unmatched_raw = c.send_unmatched;
      if (!o.match_pattern.empty() && o.field_names.empty())
        return Status::InvalidArgument("--match-pattern needs --fields");
      if (o.match_pattern.empty() && !o.field_names.empty() &&
          o.field_names.size() != agent::LogFormatFields(o.log_format).size())
        return Status::InvalidArgument("--fields must name all " +
                                       std::to_string(agent::LogFormatFields(o.log_format).size()) +
                                       " fields of " + spec.substr(10));
    } else if (spec == "ADDMETADATA") {
      o.kind = OptionKind::kAddMetadata;
      o.add_timestamp = c.timestamp;
      if (!c.metadata.empty()) {
        std::vector<std::string> notices;
        // Reuse the configuration parser for the JSON value and its rendering.
        auto parsed = agent::ParseAgentConfig(
            R"({"flows":[{"filePattern":"x","kinesisStream":"x","dataProcessingOptions":[{"optionName":"ADDMETADATA","metadata":)" +
                c.metadata + "}]}]}",
            notices);
        if (!parsed.ok()) return Status::InvalidArgument("--metadata: not valid JSON");
        o = parsed->flows[0].processing[0];
        o.add_timestamp = c.timestamp;
      }
    } else {
      return Status::InvalidArgument(
          "--format: must be SINGLELINE, CSVTOJSON, LOGTOJSON:<FORMAT> "
          "or ADDMETADATA (got '" +
          spec + "')");
    }
    f.processing.push_back(std::move(o));
  }
  return agent::ValidateFlow(f, "");
}

// The live line on a terminal: lines read, records sent, parse failures,
// bytes behind (all flows), and the send rate.
void ShowProgress(Progress& progress, const agent::AgentStats& s) {
  if (!progress.Due()) return;
  uint64_t lines = 0, failures = 0, behind = 0;
  for (const auto& f : s.flows) {
    lines += f.lines;
    failures += f.parse_failures;
    for (const auto& p : f.files) behind += p.size > p.acked_offset ? p.size - p.acked_offset : 0;
  }
  char text[160];
  std::snprintf(
      text, sizeof text, "%llu lines read  %llu sent  %llu parse failures  %.1f MB behind",
      static_cast<unsigned long long>(lines), static_cast<unsigned long long>(s.records_sent),
      static_cast<unsigned long long>(failures), double(behind) / 1e6);
  progress.Show(text, s.records_sent);
}

std::string Realpath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (::getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return JoinPath(cwd, path);
}

}  // namespace

void AddAgentOptions(CLI::App& app, AgentCommand& c) {
  auto* config = app.add_option("-c,--configuration", c.config_file,
                                "Kinesis Agent configuration (agent.json; default " +
                                    std::string(kDefaultConfig) + " when no --file)")
                     ->type_name("FILE");
  auto* file =
      app.add_option("-f,--file", c.file,
                     "Tail the files matching GLOB (one flow; wildcards in the file name only)")
          ->type_name("GLOB");
  auto* stream = app.add_option("-s,--stream", c.stream, "Stream to write to (with --file)")
                     ->type_name("NAME");
  config->excludes(file)->excludes(stream);
  file->needs(stream);
  stream->needs(file);
  app.add_option("--format", c.formats,
                 "Data processing, in order: SINGLELINE, CSVTOJSON, LOGTOJSON:<FORMAT> "
                 "(COMMONAPACHELOG, COMBINEDAPACHELOG, APACHEERRORLOG, SYSLOG, RFC3339SYSLOG, "
                 "RFC3164SYSLOG, RFC5424SYSLOG), ADDMETADATA")
      ->type_name("FORMAT")
      ->take_all()
      ->delimiter(' ');
  app.add_option("--fields", c.fields, "customFieldNames for CSVTOJSON / LOGTOJSON")
      ->type_name("NAME,...")
      ->delimiter(',');
  app.add_option("--delimiter", c.delimiter, "CSVTOJSON delimiter (a regex, default ',')");
  app.add_option("--match-pattern", c.match_pattern,
                 "LOGTOJSON: a regex whose groups are the fields")
      ->type_name("REGEX");
  app.add_flag(
      "--send-unmatched", c.send_unmatched,
      "LOGTOJSON: send lines the pattern does not match as they are (default: drop, counted)");
  app.add_option("--metadata", c.metadata, "ADDMETADATA: a JSON value for the metadata key")
      ->type_name("JSON");
  app.add_flag("--timestamp", c.timestamp, "ADDMETADATA: add a ts key (UTC, milliseconds)");
  app.add_option("-m,--multiline", c.multiline,
                 "multiLineStartPattern: a line matching REGEX starts a new record")
      ->type_name("REGEX");
  app.add_option("--initial-position", c.initial_position,
                 "Where a flow's first start reads existing files")
      ->check(CLI::IsMember({"START_OF_FILE", "END_OF_FILE"}))
      ->capture_default_str();
  app.add_option("--partition-key", c.partition_key, "RANDOM, or DETERMINISTIC (MD5 of the record)")
      ->check(CLI::IsMember({"RANDOM", "DETERMINISTIC"}))
      ->capture_default_str();
  app.add_option("--skip-header-lines", c.skip_header_lines,
                 "Lines to skip at the start of each file")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-buffer-age", c.max_buffer_age, "maxBufferAgeMillis: longest a record waits")
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--max-buffer-records", c.max_buffer_records,
                 "maxBufferSizeRecords: records per batch")
      ->check(CLI::Range(1, 500))
      ->capture_default_str();
  app.add_option("--publish-queue-capacity", c.publish_queue_capacity,
                 "Batches written but not yet durable before reading pauses (bounds repeats "
                 "after a crash)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--max-buffer-bytes", c.max_buffer_bytes, "maxBufferSizeBytes: bytes per batch")
      ->type_name("SIZE")
      ->capture_default_str();
  app.add_option("--checkpoint-file", c.checkpoint_file,
                 "Checkpoints (overrides checkpointFile; default <store>/agent/checkpoints.json)")
      ->type_name("FILE");
  app.add_flag("--once", c.once, "Read what the files hold now, send it, checkpoint and exit");
  app.add_flag("--stats", c.stats,
               "Print counters as JSON on stdout at the end (and every --stats-interval)");
  app.add_option("--stats-interval", c.stats_interval, "With --stats: also print them this often")
      ->type_name("DURATION");
}

int RunAgentCommand(const CLI::App& app, const AgentCommand& c, const CommonOptions& common,
                    const std::string& tool, const StopFlag* stop) {
  (void)app;
  Env* env = Env::Default();
  AgentConfig config;
  std::vector<std::string> notices;
  std::string source = "--file";
  if (!c.file.empty()) {
    FlowConfig f;
    if (Status s = FlowFromFlags(c, f); !s.ok()) return UsageError(tool, s.message());
    f.file_pattern = Realpath(f.file_pattern);
    config.flows.push_back(std::move(f));
  } else {
    source = c.config_file.empty() ? kDefaultConfig : c.config_file;
    if (c.config_file.empty() && !env->Exists(source))
      return UsageError(tool, "no configuration: give -c agent.json, or --file GLOB --stream NAME");
    auto text = env->ReadWholeFile(source);
    if (!text.ok()) return Fail(tool, text.status());
    auto parsed = agent::ParseAgentConfig(*text, notices);
    if (!parsed.ok()) return UsageError(tool, source + ": " + parsed.status().message());
    config = std::move(*parsed);
    for (auto& f : config.flows) f.file_pattern = Realpath(f.file_pattern);
    for (size_t i = 0; i < config.flows.size(); ++i)
      for (size_t k = 0; k < i; ++k)
        if (config.flows[i].Id() == config.flows[k].Id())
          return UsageError(tool, source + ": flows[" + std::to_string(i) +
                                      "]: the same filePattern and stream as flows[" +
                                      std::to_string(k) + "]");
  }
  if (!common.quiet)
    for (const auto& n : notices) std::cerr << tool << ": " << source << ": " << n << "\n";

  agent::AgentOptions o;
  o.once = c.once;
  o.stop = stop;
  o.stop_fd = StopFd();
  o.checkpoint_file = !c.checkpoint_file.empty() ? Realpath(c.checkpoint_file)
                      : !config.checkpoint_file.empty()
                          ? Realpath(config.checkpoint_file)
                          : agent::DefaultCheckpointFile(common.StoreRoot());
  if (c.stats) {
    o.on_stats = [](const agent::AgentStats& s) { std::cout << agent::StatsJson(s) << std::endl; };
    if (!c.stats_interval.empty()) {
      auto ms = ParseDuration(c.stats_interval);
      if (!ms.ok() || *ms <= 0)
        return UsageError(tool, "--stats-interval: must be a positive duration");
      o.stats_interval_ms = *ms;
    }
  }
  Progress progress(tool, common.quiet);
  o.on_progress = [&](const agent::AgentStats& s) { ShowProgress(progress, s); };
  o.log = [&](const std::string& m) {
    if (!common.quiet) std::cerr << tool << ": " << m << "\n";
  };

  auto backend = OpenBackend(common);
  if (!backend.ok()) return Fail(tool, backend.status());
  agent::AgentStats last;
  auto on_stats = o.on_stats;
  o.on_stats = [&](const agent::AgentStats& s) {
    last = s;
    if (on_stats) on_stats(s);
  };
  Status s = agent::RunAgent(config, **backend, o, env);
  progress.Finish();
  if (!common.quiet) {
    for (const auto& f : last.flows)
      if (f.parse_failures > 0)
        std::cerr
            << tool << ": " << f.flow << ": " << f.parse_failures
            << " line(s) did not match the LOGTOJSON pattern ("
            << "dropped; --send-unmatched or \"sendUnmatched\": true sends them as they are)\n";
  }
  if (common.verbose)
    for (const auto& f : last.flows)
      std::cerr << tool << ": " << f.flow << ": " << f.lines << " lines read, " << f.records_sent
                << " records sent (" << f.bytes_sent << " bytes), " << f.truncated
                << " truncated\n";
  if (!s.ok()) return Fail(tool, s);
  return kExitOk;
}

}  // namespace kstream::cli
