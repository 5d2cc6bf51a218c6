#include "agent/config.h"

#include <simdjson.h>

#include <charconv>
#include <set>

#include "core/env.h"
#include "core/text.h"

namespace kstream::agent {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Top-level keys that configure AWS clients, credentials, CloudWatch or the
// Kinesis Agent's Java thread pools: meaningless here, accepted and ignored.
bool IsAwsOnlyKey(std::string_view key) {
  static const std::set<std::string_view> kKeys = {"kinesis.endpoint",
                                                   "kinesis.region",
                                                   "firehose.endpoint",
                                                   "sts.endpoint",
                                                   "awsAccessKeyId",
                                                   "awsSecretAccessKey",
                                                   "assumeRoleARN",
                                                   "assumeRoleExternalId",
                                                   "maxSendingThreadsPerCore",
                                                   "maxSendingThreads",
                                                   "sendingThreadsKeepAliveMillis",
                                                   "sendingThreadsMaxQueueSize",
                                                   "maxConnections",
                                                   "connectionTimeoutMillis",
                                                   "socketTimeoutMillis",
                                                   "connectionTTLMillis",
                                                   "useTcpKeepAlive",
                                                   "useHttpGzip",
                                                   "userAgent",
                                                   "userAgentOverride",
                                                   "checkpoints.queryTimeoutSeconds",
                                                   "checkpoints.connectionTimeoutSeconds",
                                                   "log.emitMetrics",
                                                   "log.emitInternalMetrics"};
  return kKeys.count(key) > 0 || key.starts_with("cloudwatch.") ||
         key.starts_with("userDefinedCredentialsProvider.");
}

// Flow keys of the Kinesis Agent's sending machinery (retries, publish
// queues, Firehose aggregation): kstream-agent writes to the store directly.
bool IsSenderTuningKey(std::string_view key) {
  static const std::set<std::string_view> kKeys = {
      "retryInitialBackoffMillis", "retryMaxBackoffMillis", "waitOnFullPublishQueueMillis",
      "waitOnEmptyPublishQueueMillis", "aggregatedRecordSizeBytes"};
  return kKeys.count(key) > 0;
}

Status Invalid(const std::string& path, const std::string& why) {
  return Status::InvalidArgument(path + ": " + why);
}

std::string ElementText(element e) {
  return std::string(simdjson::minify(e));
}

// A number given as a JSON number or a numeric string, within [lo, hi].
Result<int64_t> GetInt(element e, const std::string& path, int64_t lo, int64_t hi) {
  int64_t v = 0;
  if (e.type() == element_type::INT64) {
    v = e.get_int64().value_unsafe();
  } else if (e.type() == element_type::UINT64) {
    v = INT64_MAX;
  } else if (e.type() == element_type::STRING) {
    std::string_view s = e.get_string().value_unsafe();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty())
      return Invalid(path, "must be an integer (got " + ElementText(e) + ")");
  } else {
    return Invalid(path, "must be an integer (got " + ElementText(e) + ")");
  }
  if (v < lo || v > hi)
    return Invalid(path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                             " (got " + ElementText(e) + ")");
  return v;
}

Result<std::string> GetString(element e, const std::string& path) {
  if (e.type() != element_type::STRING)
    return Invalid(path, "must be a string (got " + ElementText(e) + ")");
  return std::string(e.get_string().value_unsafe());
}

Result<bool> GetBool(element e, const std::string& path) {
  if (e.type() == element_type::BOOL) return e.get_bool().value_unsafe();
  if (e.type() == element_type::STRING) {
    std::string_view s = e.get_string().value_unsafe();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return Invalid(path, "must be true or false (got " + ElementText(e) + ")");
}

Result<std::string> GetEnum(element e, const std::string& path,
                            std::initializer_list<std::string_view> allowed) {
  KS_ASSIGN_OR_RETURN(std::string s, GetString(e, path));
  std::string list;
  for (auto a : allowed) {
    if (s == a) return s;
    list += list.empty() ? "" : ", ";
    list += a;
  }
  return Invalid(path, "must be one of " + list + " (got \"" + s + "\")");
}

Result<std::vector<std::string>> GetStringList(element e, const std::string& path) {
  if (e.type() != element_type::ARRAY)
    return Invalid(path, "must be a list of strings (got " + ElementText(e) + ")");
  std::vector<std::string> out;
  size_t i = 0;
  simdjson::dom::array array1;
  [[maybe_unused]] auto array1_err = e.get_array().get(array1);  // type checked above
  for (element item : array1) {
    KS_ASSIGN_OR_RETURN(std::string s, GetString(item, path + "[" + std::to_string(i++) + "]"));
    out.push_back(std::move(s));
  }
  return out;
}

void Unknown(std::vector<std::string>& notices, const std::string& path) {
  notices.push_back("warning: unknown key '" + path + "' (ignored)");
}

Result<ProcessingOption> ParseOption(element e, const std::string& path,
                                     std::vector<std::string>& notices, bool* skip) {
  *skip = false;
  if (e.type() != element_type::OBJECT) return Invalid(path, "must be an object");
  object obj;
  [[maybe_unused]] auto obj_err = e.get_object().get(obj);  // type checked above
  element name_el;
  if (obj["optionName"].get(name_el) != simdjson::SUCCESS)
    return Invalid(path + ".optionName", "is required");
  KS_ASSIGN_OR_RETURN(std::string name,
                      GetEnum(name_el, path + ".optionName",
                              {"SINGLELINE", "CSVTOJSON", "LOGTOJSON", "ADDMETADATA",
                               "ADDEC2METADATA", "ADDBRACKETS", "USINGPLUGGIN"}));
  ProcessingOption o;
  if (name == "ADDEC2METADATA") {
    notices.push_back("notice: " + path +
                      ": ADDEC2METADATA has no EC2 instance metadata here; records pass "
                      "through unchanged (as the Kinesis Agent does off EC2)");
    *skip = true;
    return o;
  }
  if (name == "USINGPLUGGIN")
    return Invalid(path + ".optionName", "USINGPLUGGIN loads Java classes; not supported");
  if (name == "ADDBRACKETS")
    return Invalid(path + ".optionName", "ADDBRACKETS is a demonstration converter; not supported");
  o.kind = name == "SINGLELINE"  ? OptionKind::kSingleLine
           : name == "CSVTOJSON" ? OptionKind::kCsvToJson
           : name == "LOGTOJSON" ? OptionKind::kLogToJson
                                 : OptionKind::kAddMetadata;
  bool have_names = false, have_format = false;
  for (auto field : obj) {
    const std::string key(field.key);
    const std::string kp = path + "." + key;
    if (key == "optionName") continue;
    if (key == "jsonFormat") {
      KS_ASSIGN_OR_RETURN(std::string f, GetEnum(field.value, kp, {"COMPACT", "PRETTYPRINT"}));
      o.json_format = f == "PRETTYPRINT" ? JsonFormat::kPretty : JsonFormat::kCompact;
    } else if (key == "parseOptions" && o.kind == OptionKind::kSingleLine) {
      KS_ASSIGN_OR_RETURN(auto list, GetStringList(field.value, kp));
      for (const auto& p : list) {
        if (p == "NO_TRIM")
          o.no_trim = true;
        else if (p == "ESCAPE_NEW_LINE")
          o.escape_new_line = true;
        else
          return Invalid(kp, "unknown parse option \"" + p + "\" (NO_TRIM, ESCAPE_NEW_LINE)");
      }
    } else if (key == "customFieldNames" &&
               (o.kind == OptionKind::kCsvToJson || o.kind == OptionKind::kLogToJson)) {
      KS_ASSIGN_OR_RETURN(o.field_names, GetStringList(field.value, kp));
      have_names = true;
    } else if (key == "delimiter" && o.kind == OptionKind::kCsvToJson) {
      KS_ASSIGN_OR_RETURN(o.delimiter, GetString(field.value, kp));
      if (o.delimiter.empty()) return Invalid(kp, "must not be empty");
    } else if (key == "logFormat" && o.kind == OptionKind::kLogToJson) {
      KS_ASSIGN_OR_RETURN(std::string f, GetString(field.value, kp));
      auto lf = ParseLogFormat(f);
      if (!lf)
        return Invalid(kp,
                       "must be one of COMMONAPACHELOG, COMBINEDAPACHELOG, APACHEERRORLOG, "
                       "SYSLOG, RFC3339SYSLOG (also RFC3164SYSLOG, RFC5424SYSLOG) (got \"" +
                           f + "\")");
      o.log_format = *lf;
      have_format = true;
    } else if (key == "matchPattern" && o.kind == OptionKind::kLogToJson) {
      KS_ASSIGN_OR_RETURN(o.match_pattern, GetString(field.value, kp));
    } else if (key == "sendUnmatched" && o.kind == OptionKind::kLogToJson) {
      KS_ASSIGN_OR_RETURN(o.send_unmatched_raw, GetBool(field.value, kp));
    } else if (key == "metadata" && o.kind == OptionKind::kAddMetadata) {
      AppendJsonValue(field.value, JsonFormat::kCompact, 1, o.metadata_compact);
      AppendJsonValue(field.value, JsonFormat::kPretty, 1, o.metadata_pretty);
    } else if (key == "timestamp" && o.kind == OptionKind::kAddMetadata) {
      KS_ASSIGN_OR_RETURN(o.add_timestamp, GetBool(field.value, kp));
    } else {
      Unknown(notices, kp);
    }
  }
  if (o.kind == OptionKind::kCsvToJson && !have_names)
    return Invalid(path + ".customFieldNames", "is required for CSVTOJSON");
  if (o.kind == OptionKind::kLogToJson) {
    if (!have_format) return Invalid(path + ".logFormat", "is required for LOGTOJSON");
    if (!o.match_pattern.empty() && !have_names)
      return Invalid(path + ".customFieldNames", "is required with matchPattern");
    if (o.match_pattern.empty() && have_names &&
        o.field_names.size() != LogFormatFields(o.log_format).size())
      return Invalid(path + ".customFieldNames",
                     "must name all " + std::to_string(LogFormatFields(o.log_format).size()) +
                         " fields of the log format (got " + std::to_string(o.field_names.size()) +
                         ")");
  }
  return o;
}

Result<FlowConfig> ParseFlow(element e, const std::string& path,
                             std::vector<std::string>& notices) {
  if (e.type() != element_type::OBJECT) return Invalid(path, "must be an object");
  FlowConfig f;
  bool have_pattern = false, have_stream = false;
  simdjson::dom::object object2;
  [[maybe_unused]] auto object2_err = e.get_object().get(object2);  // type checked above
  for (auto field : object2) {
    const std::string key(field.key);
    const std::string kp = path + "." + key;
    element v = field.value;
    if (key == "filePattern") {
      KS_ASSIGN_OR_RETURN(f.file_pattern, GetString(v, kp));
      have_pattern = true;
    } else if (key == "kinesisStream" || key == "deliveryStream") {
      if (have_stream) return Invalid(kp, "a flow has one of kinesisStream or deliveryStream");
      KS_ASSIGN_OR_RETURN(f.stream, GetString(v, kp));
      if (Status s = ValidateStreamName(f.stream); !s.ok()) return Invalid(kp, s.message());
      if (key == "deliveryStream")
        notices.push_back("notice: " + kp + ": written to the stream '" + f.stream +
                          "' (kstream-deliver plays Firehose's part)");
      have_stream = true;
    } else if (key == "partitionKeyOption") {
      KS_ASSIGN_OR_RETURN(std::string s, GetEnum(v, kp, {"RANDOM", "DETERMINISTIC"}));
      f.partition_key =
          s == "RANDOM" ? PartitionKeyOption::kRandom : PartitionKeyOption::kDeterministic;
    } else if (key == "initialPosition") {
      KS_ASSIGN_OR_RETURN(std::string s, GetEnum(v, kp, {"START_OF_FILE", "END_OF_FILE"}));
      f.initial_position =
          s == "START_OF_FILE" ? InitialPosition::kStartOfFile : InitialPosition::kEndOfFile;
    } else if (key == "maxBufferAgeMillis") {
      KS_ASSIGN_OR_RETURN(f.max_buffer_age_ms, GetInt(v, kp, 1000, 900000));
    } else if (key == "maxBufferSizeRecords") {
      KS_ASSIGN_OR_RETURN(int64_t n, GetInt(v, kp, 1, 500));
      f.max_buffer_records = size_t(n);
    } else if (key == "maxBufferSizeBytes") {
      KS_ASSIGN_OR_RETURN(int64_t n, GetInt(v, kp, 1, 5242880));
      f.max_buffer_bytes = size_t(n);
    } else if (key == "minTimeBetweenFilePollsMillis") {
      KS_ASSIGN_OR_RETURN(f.min_poll_ms, GetInt(v, kp, 1, INT32_MAX));
    } else if (key == "maxTimeBetweenFileTrackerRefreshMillis") {
      KS_ASSIGN_OR_RETURN(f.max_refresh_ms, GetInt(v, kp, 1, INT32_MAX));
    } else if (key == "multiLineStartPattern") {
      KS_ASSIGN_OR_RETURN(f.multiline_start_pattern, GetString(v, kp));
    } else if (key == "skipHeaderLines") {
      KS_ASSIGN_OR_RETURN(f.skip_header_lines, GetInt(v, kp, 0, INT32_MAX));
    } else if (key == "truncatedRecordTerminator") {
      KS_ASSIGN_OR_RETURN(f.truncated_record_terminator, GetString(v, kp));
      if (f.truncated_record_terminator.size() >= 1024 * 1024)
        return Invalid(kp, "must be shorter than the largest record (1 MiB)");
    } else if (key == "publishQueueCapacity") {
      KS_ASSIGN_OR_RETURN(int64_t n, GetInt(v, kp, 1, 100000));
      f.publish_queue_capacity = size_t(n);
    } else if (key == "fileFooterPattern") {
      KS_ASSIGN_OR_RETURN(f.file_footer_pattern, GetString(v, kp));
    } else if (key == "dataProcessingOptions") {
      if (v.type() != element_type::ARRAY) return Invalid(kp, "must be a list of objects");
      size_t i = 0;
      simdjson::dom::array array3;
      [[maybe_unused]] auto array3_err = v.get_array().get(array3);  // type checked above
      for (element item : array3) {
        bool skip = false;
        KS_ASSIGN_OR_RETURN(
            ProcessingOption o,
            ParseOption(item, kp + "[" + std::to_string(i++) + "]", notices, &skip));
        if (!skip) f.processing.push_back(std::move(o));
      }
    } else if (IsSenderTuningKey(key)) {
      // Accepted for compatibility; the store needs no publish queue or retries.
    } else {
      Unknown(notices, kp);
    }
  }
  if (!have_pattern) return Invalid(path + ".filePattern", "is required");
  if (!have_stream) return Invalid(path + ".kinesisStream", "is required");
  KS_RETURN_IF_ERROR(ValidateFlow(f, path));
  return f;
}

}  // namespace

Status ValidateFlow(const FlowConfig& f, const std::string& path) {
  const std::string p = path.empty() ? "" : path + ".";
  if (f.file_pattern.empty()) return Invalid(p + "filePattern", "must not be empty");
  if (f.file_pattern.back() == '/')
    return Invalid(p + "filePattern", "must name files, not a directory");
  const size_t slash = f.file_pattern.rfind('/');
  if (slash != std::string::npos && f.file_pattern.find_first_of("*?[", 0) < slash)
    return Invalid(p + "filePattern",
                   "wildcards are allowed in the file name only, not in directories (got \"" +
                       f.file_pattern + "\")");
  if (Status s = ValidateStreamName(f.stream); !s.ok())
    return Invalid(p + "kinesisStream", s.message());
  if (!f.multiline_start_pattern.empty()) {
    auto r = Regex::Compile(f.multiline_start_pattern);
    if (!r.ok()) return Invalid(p + "multiLineStartPattern", r.status().message());
  }
  if (!f.file_footer_pattern.empty()) {
    auto r = Regex::Compile(f.file_footer_pattern);
    if (!r.ok()) return Invalid(p + "fileFooterPattern", r.status().message());
  }
  for (size_t i = 0; i < f.processing.size(); ++i) {
    auto c = MakeConverter(f.processing[i], Env::Default());
    if (!c.ok())
      return Invalid(p + "dataProcessingOptions[" + std::to_string(i) + "]", c.status().message());
  }
  return Status::Ok();
}

std::string DefaultCheckpointFile(const std::string& store_root) {
  return JoinPath(JoinPath(store_root, "agent"), "checkpoints.json");
}

Result<AgentConfig> ParseAgentConfig(std::string_view json, std::vector<std::string>& notices) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root))
    return Status::InvalidArgument(std::string("not valid JSON: ") + simdjson::error_message(err));
  if (root.type() != element_type::OBJECT)
    return Status::InvalidArgument("the configuration must be a JSON object");
  AgentConfig c;
  bool have_flows = false;
  std::vector<std::string> aws_keys;
  simdjson::dom::object object4;
  [[maybe_unused]] auto object4_err = root.get_object().get(object4);  // type checked above
  for (auto field : object4) {
    const std::string key(field.key);
    element v = field.value;
    if (key == "checkpointFile") {
      KS_ASSIGN_OR_RETURN(c.checkpoint_file, GetString(v, key));
      if (c.checkpoint_file.empty()) return Invalid(key, "must not be empty");
    } else if (key == "checkpointTimeToLiveDays") {
      KS_ASSIGN_OR_RETURN(c.checkpoint_ttl_days, GetInt(v, key, 1, 36500));
    } else if (key == "shutdownTimeoutMillis") {
      KS_ASSIGN_OR_RETURN(c.shutdown_timeout_ms, GetInt(v, key, 1, INT32_MAX));
    } else if (key == "log.statusReportingPeriodSeconds") {
      KS_ASSIGN_OR_RETURN(int64_t s, GetInt(v, key, 1, 86400));
      c.status_period_ms = s * 1000;
    } else if (key == "flows") {
      if (v.type() != element_type::ARRAY) return Invalid(key, "must be a list of flows");
      size_t i = 0;
      simdjson::dom::array array5;
      [[maybe_unused]] auto array5_err = v.get_array().get(array5);  // type checked above
      for (element item : array5) {
        KS_ASSIGN_OR_RETURN(FlowConfig f,
                            ParseFlow(item, "flows[" + std::to_string(i++) + "]", notices));
        c.flows.push_back(std::move(f));
      }
      have_flows = true;
    } else if (IsAwsOnlyKey(key)) {
      aws_keys.push_back(key);
    } else {
      Unknown(notices, key);
    }
  }
  if (!have_flows) return Invalid("flows", "is required (a list of flows)");
  if (c.flows.empty()) return Invalid("flows", "must hold at least one flow");
  if (!aws_keys.empty()) {
    std::string list;
    for (const auto& k : aws_keys) list += (list.empty() ? "" : ", ") + k;
    notices.push_back("notice: ignoring settings that only apply on AWS: " + list);
  }
  return c;
}

}  // namespace kstream::agent
