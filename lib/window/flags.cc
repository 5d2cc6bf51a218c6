#include "window/flags.h"

#include "core/text.h"

namespace kstream::window {
namespace {

// "a,b" and repeated flags alike; empty items are an error.
Status SplitList(const std::vector<std::string>& items, const char* flag,
                 std::vector<std::string>& out) {
  for (const std::string& item : items) {
    size_t start = 0;
    while (true) {
      const size_t comma = item.find(',', start);
      const std::string part = item.substr(start, comma - start);
      if (part.empty())
        return Status::InvalidArgument(std::string(flag) + ": empty field name in '" + item + "'");
      out.push_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return Status::Ok();
}

Result<int64_t> Duration(const std::string& text, const char* flag) {
  auto d = ParseDuration(text);
  if (!d.ok()) return Status::InvalidArgument(std::string(flag) + ": " + d.status().message());
  if (*d <= 0) return Status::InvalidArgument(std::string(flag) + " must be more than 0");
  return *d;
}

Status Windows(const WindowFlags& f, WindowSpec& w) {
  const int kinds = !f.tumbling.empty() + !f.sliding.empty() + !f.session.empty();
  if (kinds != 1)
    return Status::InvalidArgument(kinds == 0
                                       ? "give a window: --tumbling D, --sliding D --every S "
                                         "or --session GAP"
                                       : "--tumbling, --sliding and --session exclude each other");
  if (!f.every.empty() && f.sliding.empty())
    return Status::InvalidArgument("--every goes with --sliding");
  if (!f.tumbling.empty()) {
    w.kind = WindowSpec::Kind::kTumbling;
    KS_ASSIGN_OR_RETURN(w.size_ms, Duration(f.tumbling, "--tumbling"));
    w.slide_ms = w.size_ms;
  } else if (!f.sliding.empty()) {
    if (f.every.empty()) return Status::InvalidArgument("--sliding needs --every (the slide)");
    w.kind = WindowSpec::Kind::kSliding;
    KS_ASSIGN_OR_RETURN(w.size_ms, Duration(f.sliding, "--sliding"));
    KS_ASSIGN_OR_RETURN(w.slide_ms, Duration(f.every, "--every"));
  } else {
    w.kind = WindowSpec::Kind::kSession;
    KS_ASSIGN_OR_RETURN(w.gap_ms, Duration(f.session, "--session"));
  }
  return Status::Ok();
}

Status Aggs(const WindowFlags& f, std::vector<AggSpec>& out) {
  if (f.count) out.push_back(AggSpec{});
  const std::pair<const std::vector<std::string>*, AggKind> simple[] = {
      {&f.sum, AggKind::kSum},
      {&f.avg, AggKind::kAvg},
      {&f.min, AggKind::kMin},
      {&f.max, AggKind::kMax},
      {&f.distinct, AggKind::kDistinct}};
  static constexpr const char* kFlag[] = {"--sum", "--avg", "--min", "--max", "--distinct"};
  for (size_t i = 0; i < std::size(simple); ++i) {
    std::vector<std::string> fields;
    KS_RETURN_IF_ERROR(SplitList(*simple[i].first, kFlag[i], fields));
    for (auto& field : fields) {
      AggSpec s;
      s.kind = simple[i].second;
      s.field = std::move(field);
      out.push_back(std::move(s));
    }
  }
  for (const auto& t : f.top) {
    KS_ASSIGN_OR_RETURN(AggSpec s, ParseTopSpec(t));
    out.push_back(std::move(s));
  }
  for (const auto& p : f.percentile) {
    KS_ASSIGN_OR_RETURN(AggSpec s, ParsePercentileSpec(p));
    out.push_back(std::move(s));
  }
  return Status::Ok();
}

}  // namespace

Result<WindowConfig> ConfigFromFlags(const WindowFlags& f) {
  WindowConfig c;
  KS_RETURN_IF_ERROR(Windows(f, c.window));
  KS_RETURN_IF_ERROR(SplitList(f.group_by, "--group-by", c.group_by));
  KS_RETURN_IF_ERROR(Aggs(f, c.aggregates));
  c.where = f.where;
  c.time_field = f.time_field;
  c.time_format = f.time_format;
  if (!f.allowed_lateness.empty()) {
    auto d = ParseDuration(f.allowed_lateness);
    if (!d.ok()) return Status::InvalidArgument("--allowed-lateness: " + d.status().message());
    c.allowed_lateness_ms = *d;
  }
  c.emit_empty = f.emit_empty;
  c.csv = f.csv;
  std::string delim = f.delimiter;
  if (delim == "tab" || delim == "\\t") delim = "\t";
  if (delim.size() != 1 || delim == "\"" || delim == "\n")
    return Status::InvalidArgument("--delimiter must be one character (or 'tab')");
  c.csv_options.delimiter = delim[0];
  if (!f.header.empty()) {
    std::vector<std::string_view> cols;
    std::string scratch;
    if (!SplitCsvLine(f.header, ',', cols, scratch))
      return Status::InvalidArgument("--header: unbalanced quote");
    c.csv_options.header.assign(cols.begin(), cols.end());
  }
  if (!c.csv && (f.delimiter != "," || !f.header.empty()))
    return Status::InvalidArgument("--delimiter and --header go with --csv");
  if (!c.time_field.empty() || c.time_format == "auto") {
    auto tf = TimeFormat::Parse(c.time_format);
    if (!tf.ok()) return tf.status();
  } else {
    return Status::InvalidArgument("--time-format goes with --time-field");
  }
  KS_RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

}  // namespace kstream::window
