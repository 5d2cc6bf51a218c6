// The Kinesis Agent's dataProcessingOptions: converters applied in order to
// each record before it is sent (SINGLELINE, CSVTOJSON, LOGTOJSON,
// ADDMETADATA). Records carry no terminator here (kstream's rule: a record is
// the line without its newline), so unlike the Kinesis Agent no converter
// strips or appends "\n"; field names, value rules and key order are the
// Kinesis Agent's. Converters are not thread-safe (they keep scratch space).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/json_out.h"
#include "agent/regex.h"
#include "core/env.h"
#include "core/status.h"

namespace kstream::agent {

enum class OptionKind { kSingleLine, kCsvToJson, kLogToJson, kAddMetadata };

enum class LogFormat {
  kCommonApache,    // COMMONAPACHELOG
  kCombinedApache,  // COMBINEDAPACHELOG
  kApacheError,     // APACHEERRORLOG
  kSyslog,          // SYSLOG (alias RFC3164SYSLOG)
  kRfc3339Syslog,   // RFC3339SYSLOG
  kRfc5424Syslog,   // RFC5424SYSLOG (kstream extension)
};

// "COMMONAPACHELOG" ... ; nullopt for an unknown name.
std::optional<LogFormat> ParseLogFormat(std::string_view name);
// The field names a built-in format produces, in output order.
const std::vector<std::string>& LogFormatFields(LogFormat format);
// The regular expression of a built-in format (PCRE2 syntax).
const char* LogFormatPattern(LogFormat format);

// One dataProcessingOptions entry, validated.
struct ProcessingOption {
  OptionKind kind = OptionKind::kSingleLine;
  JsonFormat json_format = JsonFormat::kCompact;
  // SINGLELINE parseOptions
  bool no_trim = false;
  bool escape_new_line = false;
  // CSVTOJSON: customFieldNames, delimiter (a Java regex, as String.split).
  // LOGTOJSON: customFieldNames renames the built-in fields or names the
  // groups of matchPattern.
  std::vector<std::string> field_names;
  std::string delimiter = ",";
  // LOGTOJSON
  LogFormat log_format = LogFormat::kCommonApache;
  std::string match_pattern;        // empty: the format's own pattern
  bool send_unmatched_raw = false;  // kstream extension; the Kinesis Agent drops them
  // ADDMETADATA: metadata rendered in both styles (empty: no metadata key).
  std::string metadata_compact, metadata_pretty;
  bool add_timestamp = false;
};

enum class Outcome {
  kConverted,
  kUnmatched,  // LOGTOJSON: the line does not match the pattern (counted)
};

class Converter {
 public:
  virtual ~Converter() = default;
  // Converts in into out (out is cleared first; in never points into out).
  virtual Outcome Convert(std::string_view in, std::string& out) = 0;
};

// Fails only for a pattern that does not compile or a field count that does
// not fit the pattern (validated with the configuration).
Result<std::unique_ptr<Converter>> MakeConverter(const ProcessingOption& option, Env* env);

// The converters of one flow, run in order.
class ConverterChain {
 public:
  static Result<ConverterChain> Make(const std::vector<ProcessingOption>& options, Env* env);
  bool empty() const { return converters_.empty(); }
  // The converted record (pointing into the chain's buffers until the next
  // call), or nullopt when a LOGTOJSON step did not match and the record is
  // dropped. *unmatched is set when a step did not match (dropped or, with
  // send_unmatched_raw, sent as the original record).
  std::optional<std::string_view> Run(std::string_view record, bool* unmatched);

 private:
  struct Step {
    std::unique_ptr<Converter> converter;
    bool send_unmatched_raw;
  };
  std::vector<Step> converters_;
  std::string a_, b_;
};

}  // namespace kstream::agent
