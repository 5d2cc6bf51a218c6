#include "agent/convert.h"

#include <cstring>

#include "core/text.h"

namespace kstream::agent {
namespace {

// Java's String.trim(): drops characters <= ' ' at both ends.
std::string_view JavaTrim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && static_cast<unsigned char>(s[b]) <= ' ') ++b;
  while (e > b && static_cast<unsigned char>(s[e - 1]) <= ' ') --e;
  return s.substr(b, e - b);
}

// ---- SINGLELINE: the lines of a (multi-line) record trimmed and joined.
class SingleLine final : public Converter {
 public:
  explicit SingleLine(const ProcessingOption& o) : trim_(!o.no_trim), escape_(o.escape_new_line) {}
  Outcome Convert(std::string_view in, std::string& out) override {
    out.clear();
    bool first = true;
    size_t pos = 0;
    // Java's split("\n") drops trailing empty lines (no terminator is left here).
    std::string_view body = in;
    while (!body.empty() && body.back() == '\n') body.remove_suffix(1);
    while (pos <= body.size()) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string_view::npos) nl = body.size();
      std::string_view line = body.substr(pos, nl - pos);
      if (!first && escape_) out += "\\\\n";
      first = false;
      out += trim_ ? JavaTrim(line) : line;
      pos = nl + 1;
    }
    return Outcome::kConverted;
  }

 private:
  bool trim_, escape_;
};

// A delimiter regex that is really one literal character (the common case)
// is split without the regex engine.
std::optional<char> LiteralDelimiter(const std::string& d) {
  static constexpr char kMeta[] = ".$|()[]{}^?*+\\";
  if (d.size() == 1 && std::strchr(kMeta, d[0]) == nullptr) return d[0];
  if (d.size() == 2 && d[0] == '\\' && !std::isalnum(static_cast<unsigned char>(d[1]))) return d[1];
  if (d == "\\t") return '\t';
  return std::nullopt;
}

// ---- CSVTOJSON: Java String.split(delimiter) semantics, all values strings.
class CsvToJson final : public Converter {
 public:
  CsvToJson(const ProcessingOption& o, std::optional<Regex> delimiter)
      : o_(o), literal_(LiteralDelimiter(o.delimiter)), regex_(std::move(delimiter)) {}

  Outcome Convert(std::string_view in, std::string& out) override {
    Split(in);
    out.clear();
    JsonObjectWriter w(out, o_.json_format);
    for (size_t i = 0; i < o_.field_names.size(); ++i)
      w.Field(o_.field_names[i],
              i < parts_.size() ? std::optional<std::string_view>(parts_[i]) : std::nullopt);
    w.End();
    return Outcome::kConverted;
  }

 private:
  void Split(std::string_view in) {
    parts_.clear();
    size_t start = 0;
    bool matched = false;
    if (literal_) {
      for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != *literal_) continue;
        parts_.push_back(in.substr(start, i - start));
        start = i + 1;
        matched = true;
      }
    } else {
      size_t from = 0, b, e;
      while (from <= in.size() && regex_->Find(in, from, b, e)) {
        if (e == 0) {  // a zero-length match at the start yields no leading field
          from = 1;
          continue;
        }
        parts_.push_back(in.substr(start, b - start));
        start = e;
        matched = true;
        from = e > b ? e : e + 1;
      }
    }
    if (!matched) {  // split() of a text without the delimiter is the text itself
      parts_.push_back(in);
      return;
    }
    parts_.push_back(in.substr(start));
    while (!parts_.empty() && parts_.back().empty()) parts_.pop_back();
  }

  ProcessingOption o_;
  std::optional<char> literal_;
  std::optional<Regex> regex_;
  std::vector<std::string_view> parts_;
};

// ---- LOGTOJSON: a regex per format, its groups as string fields.
bool IsApacheFamily(LogFormat f) {
  return f == LogFormat::kCommonApache || f == LogFormat::kCombinedApache ||
         f == LogFormat::kApacheError;
}

class LogToJson final : public Converter {
 public:
  LogToJson(const ProcessingOption& o, Regex pattern, std::vector<std::string> fields)
      : o_(o), pattern_(std::move(pattern)), fields_(std::move(fields)) {}

  Outcome Convert(std::string_view in, std::string& out) override {
    out.clear();
    if (!pattern_.FullMatch(in, groups_) || groups_.size() != fields_.size())
      return Outcome::kUnmatched;
    const bool apache = IsApacheFamily(o_.log_format);
    const bool rfc5424 = o_.log_format == LogFormat::kRfc5424Syslog && o_.match_pattern.empty();
    JsonObjectWriter w(out, o_.json_format);
    for (size_t i = 0; i < fields_.size(); ++i) {
      std::optional<std::string_view> v = groups_[i];
      // The Apache parsers map a lone "-" to null; RFC 5424 calls "-" NILVALUE.
      const bool nil_allowed = apache || (rfc5424 && i + 1 < fields_.size());
      if (nil_allowed && v && *v == "-") v.reset();
      w.Field(fields_[i], v);
    }
    w.End();
    return Outcome::kConverted;
  }

 private:
  ProcessingOption o_;
  Regex pattern_;
  std::vector<std::string> fields_;
  std::vector<std::optional<std::string_view>> groups_;
};

// ---- ADDMETADATA: {"ts":..., "metadata":..., "data":"<record>"}.
class AddMetadata final : public Converter {
 public:
  AddMetadata(const ProcessingOption& o, Env* env) : o_(o), env_(env) {}
  Outcome Convert(std::string_view in, std::string& out) override {
    out.clear();
    JsonObjectWriter w(out, o_.json_format);
    if (o_.add_timestamp) w.Field("ts", FormatTimestamp(env_->NowMillis()));
    const std::string& meta =
        o_.json_format == JsonFormat::kPretty ? o_.metadata_pretty : o_.metadata_compact;
    if (!meta.empty()) w.RawField("metadata", meta);
    w.Field("data", in);
    w.End();
    return Outcome::kConverted;
  }

 private:
  ProcessingOption o_;
  Env* env_;
};

// Pieces of the built-in patterns (after the Kinesis Agent's PatternConstants).
#define KS_APACHE_COMMON                                                             \
  "([A-Za-z0-9][A-Za-z0-9._-]*|[0-9A-Fa-f:.]+) ([A-Za-z0-9._-]+) ([A-Za-z0-9._-]+) " \
  "\\[(\\d{2}/[A-Za-z]{3}/\\d{4}:\\d{2}:\\d{2}:\\d{2} [+-]\\d{4})\\] \"([^\"]+)\" "  \
  "(-?\\d+|-) (-?\\d+|-)"
#define KS_SYSLOG_TAIL " (?:<\\d+\\.\\d+> )?(\\S+) ([^\\s\\[\\]:]+)(?:\\[(\\d+)\\])?: (.*)"

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "COMMONAPACHELOG") return LogFormat::kCommonApache;
  if (name == "COMBINEDAPACHELOG") return LogFormat::kCombinedApache;
  if (name == "APACHEERRORLOG") return LogFormat::kApacheError;
  if (name == "SYSLOG" || name == "RFC3164SYSLOG") return LogFormat::kSyslog;
  if (name == "RFC3339SYSLOG") return LogFormat::kRfc3339Syslog;
  if (name == "RFC5424SYSLOG") return LogFormat::kRfc5424Syslog;
  return std::nullopt;
}

const char* LogFormatPattern(LogFormat f) {
  switch (f) {
    case LogFormat::kCommonApache:
      return KS_APACHE_COMMON ".*";
    case LogFormat::kCombinedApache:
      return KS_APACHE_COMMON " \"([^\"]+)\" \"([^\"]+)\".*";
    case LogFormat::kApacheError:
      return "\\[([A-Za-z]{3} [A-Za-z]{3} \\d{2} \\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)? \\d{4})\\] "
             "\\[(?:([^:\\]\\s]+):)?([^\\]\\s]+)\\] \\[pid (\\d+)(?::tid (\\d+))?\\] "
             "\\[client ([^\\]]+)\\] (.*)";
    case LogFormat::kSyslog:
      return "([A-Za-z]{3} [ \\d]\\d \\d{2}:\\d{2}:\\d{2})" KS_SYSLOG_TAIL;
    case LogFormat::kRfc3339Syslog:
      return "(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?(?:Z|[+-]\\d{2}:\\d{2})"
             ")" KS_SYSLOG_TAIL;
    case LogFormat::kRfc5424Syslog:
      return "<(\\d{1,3})>(\\d{1,2}) (\\S+) (\\S+) (\\S+) (\\S+) (\\S+) "
             "(-|(?:\\[(?:[^\\]\"\\\\]|\"(?:[^\"\\\\]|\\\\.)*\")*\\])+)(?: (.*))?";
  }
  return "";
}

const std::vector<std::string>& LogFormatFields(LogFormat f) {
  static const std::vector<std::string> kCommon = {"host",    "ident",    "authuser", "datetime",
                                                   "request", "response", "bytes"};
  static const std::vector<std::string> kCombined = {
      "host", "ident", "authuser", "datetime", "request", "response", "bytes", "referer", "agent"};
  static const std::vector<std::string> kError = {"timestamp", "module", "severity", "processid",
                                                  "threadid",  "client", "message"};
  static const std::vector<std::string> kSyslog = {"timestamp", "hostname", "program", "processid",
                                                   "message"};
  static const std::vector<std::string> k5424 = {"priority", "version",        "timestamp",
                                                 "hostname", "appname",        "procid",
                                                 "msgid",    "structureddata", "message"};
  switch (f) {
    case LogFormat::kCommonApache:
      return kCommon;
    case LogFormat::kCombinedApache:
      return kCombined;
    case LogFormat::kApacheError:
      return kError;
    case LogFormat::kSyslog:
    case LogFormat::kRfc3339Syslog:
      return kSyslog;
    case LogFormat::kRfc5424Syslog:
      return k5424;
  }
  return kCommon;
}

Result<std::unique_ptr<Converter>> MakeConverter(const ProcessingOption& o, Env* env) {
  switch (o.kind) {
    case OptionKind::kSingleLine:
      return std::unique_ptr<Converter>(new SingleLine(o));
    case OptionKind::kCsvToJson: {
      std::optional<Regex> delimiter;
      if (!LiteralDelimiter(o.delimiter)) {
        KS_ASSIGN_OR_RETURN(Regex r, Regex::Compile(o.delimiter));
        delimiter = std::move(r);
      }
      return std::unique_ptr<Converter>(new CsvToJson(o, std::move(delimiter)));
    }
    case OptionKind::kLogToJson: {
      const bool custom = !o.match_pattern.empty();
      KS_ASSIGN_OR_RETURN(
          Regex r, Regex::Compile(custom ? o.match_pattern : LogFormatPattern(o.log_format)));
      std::vector<std::string> fields =
          o.field_names.empty() ? LogFormatFields(o.log_format) : o.field_names;
      if (size_t(r.capture_count()) != fields.size())
        return Status::InvalidArgument("matchPattern has " + std::to_string(r.capture_count()) +
                                       " capture group(s) but " + std::to_string(fields.size()) +
                                       " field name(s) are given");
      return std::unique_ptr<Converter>(new LogToJson(o, std::move(r), std::move(fields)));
    }
    case OptionKind::kAddMetadata:
      return std::unique_ptr<Converter>(new AddMetadata(o, env));
  }
  return Status::InvalidArgument("unknown processing option");
}

Result<ConverterChain> ConverterChain::Make(const std::vector<ProcessingOption>& options,
                                            Env* env) {
  ConverterChain chain;
  for (const auto& o : options) {
    KS_ASSIGN_OR_RETURN(auto c, MakeConverter(o, env));
    chain.converters_.push_back({std::move(c), o.send_unmatched_raw});
  }
  return chain;
}

std::optional<std::string_view> ConverterChain::Run(std::string_view record, bool* unmatched) {
  *unmatched = false;
  std::string_view current = record;
  for (auto& step : converters_) {
    std::string& out = current.data() == a_.data() ? b_ : a_;
    if (step.converter->Convert(current, out) == Outcome::kUnmatched) {
      *unmatched = true;
      if (!step.send_unmatched_raw) return std::nullopt;
      continue;  // the record goes on unconverted by this step
    }
    current = out;
  }
  return current;
}

}  // namespace kstream::agent
