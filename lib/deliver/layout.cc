#include "deliver/layout.h"

#include <algorithm>

#include "core/text.h"
#include "io/record_reader.h"

namespace kstream {

namespace {

// A path component a partition value may become: no separators, no control
// characters, not "." or "..".
bool SafeComponent(std::string_view v) {
  if (v.empty() || v == "." || v == "..") return false;
  return std::none_of(v.begin(), v.end(), [](char c) {
    return c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

int64_t TimeUnitOf(std::string_view fmt) {
  if (fmt.find("ss") != std::string_view::npos) return 1000;
  if (fmt.find("mm") != std::string_view::npos) return 60'000;
  if (fmt.find("HH") != std::string_view::npos) return 3'600'000;
  return 86'400'000;  // days, months and years change only at midnight
}

}  // namespace

void AppendTimeFormat(std::string& out, std::string_view fmt, int64_t epoch_ms) {
  // "2024-01-02T03:04:05.678Z": the parts sit at fixed offsets.
  const std::string t = FormatTimestamp(epoch_ms);
  static constexpr struct {
    const char* token;
    size_t offset, len;
  } kParts[] = {{"yyyy", 0, 4}, {"MM", 5, 2},  {"dd", 8, 2},
                {"HH", 11, 2},  {"mm", 14, 2}, {"ss", 17, 2}};
  for (size_t i = 0; i < fmt.size();) {
    bool matched = false;
    for (const auto& p : kParts) {
      if (fmt.substr(i).starts_with(p.token)) {
        out.append(t, p.offset, p.len);
        i += std::string_view(p.token).size();
        matched = true;
        break;
      }
    }
    if (!matched) out += fmt[i++];
  }
}

Result<PrefixTemplate> PrefixTemplate::Parse(std::string_view text) {
  PrefixTemplate t;
  t.text_ = std::string(text);
  if (text.starts_with("/")) return Status::InvalidArgument("--prefix must be relative to --to");
  for (size_t i = 0; i < text.size();) {
    const size_t open = text.find("!{", i);
    if (open != i) {
      const size_t end = open == std::string_view::npos ? text.size() : open;
      t.segments_.push_back({Segment::Kind::kLiteral, std::string(text.substr(i, end - i)), {}});
      i = end;
      continue;
    }
    const size_t close = text.find('}', open);
    if (close == std::string_view::npos)
      return Status::InvalidArgument("unterminated '!{' in --prefix '" + std::string(text) + "'");
    const std::string_view expr = text.substr(open + 2, close - open - 2);
    if (expr.starts_with("timestamp:") && expr.size() > 10) {
      t.segments_.push_back({Segment::Kind::kTime, std::string(expr.substr(10)), {}});
    } else if (expr.starts_with("field:")) {
      auto path = FieldPath::Parse(expr.substr(6));
      if (!path.ok()) return path.status().Prefixed("--prefix");
      t.segments_.push_back({Segment::Kind::kField, "", std::move(*path)});
    } else {
      return Status::InvalidArgument("unknown expression '!{" + std::string(expr) +
                                     "}' in --prefix (use !{timestamp:FORMAT} or !{field:PATH})");
    }
    i = close + 1;
  }
  // Literal parts become directories: no way out of --to.
  for (const Segment& s : t.segments_) {
    if (s.kind != Segment::Kind::kLiteral) continue;
    std::string_view rest = s.text;
    for (size_t p = 0; p <= rest.size();) {
      size_t slash = rest.find('/', p);
      if (slash == std::string_view::npos) slash = rest.size();
      if (rest.substr(p, slash - p) == "..")
        return Status::InvalidArgument("--prefix must not contain '..'");
      p = slash + 1;
    }
  }
  if (std::all_of(t.segments_.begin(), t.segments_.end(),
                  [](const Segment& s) { return s.kind == Segment::Kind::kLiteral; })) {
    // Plain text: Firehose appends the default time prefix.
    t.segments_.push_back({Segment::Kind::kTime, "yyyy/MM/dd/HH", {}});
    t.segments_.push_back({Segment::Kind::kLiteral, "/", {}});
  }
  t.Compile();
  return t;
}

void PrefixTemplate::Compile() {
  uses_fields_ = false;
  time_unit_ms_ = 0;
  for (const Segment& s : segments_) {
    if (s.kind == Segment::Kind::kField) uses_fields_ = true;
    if (s.kind == Segment::Kind::kTime) {
      const int64_t unit = TimeUnitOf(s.text);
      time_unit_ms_ = time_unit_ms_ == 0 ? unit : std::min(time_unit_ms_, unit);
    }
  }
  if (segments_.empty()) time_unit_ms_ = 0;
  cached_unit_ = -1;
}

bool PrefixTemplate::Evaluate(int64_t arrival_ms, std::string_view data, std::string& out,
                              RouteError* error) {
  if (!uses_fields_) {
    const int64_t unit = time_unit_ms_ ? arrival_ms / time_unit_ms_ : 0;
    if (unit != cached_unit_ || cached_unit_ < 0) {
      cached_.clear();
      for (const Segment& s : segments_) {
        if (s.kind == Segment::Kind::kLiteral) cached_ += s.text;
        if (s.kind == Segment::Kind::kTime) AppendTimeFormat(cached_, s.text, arrival_ms);
      }
      cached_unit_ = unit;
    }
    out = cached_;
    return true;
  }
  // The JSON parser reads past the end: give it a padded copy.
  padded_.assign(data);
  padded_.append(RecordReader::kPadding, '\0');
  const std::string_view line(padded_.data(), data.size());
  out.clear();
  for (const Segment& s : segments_) {
    switch (s.kind) {
      case Segment::Kind::kLiteral:
        out += s.text;
        break;
      case Segment::Kind::kTime:
        AppendTimeFormat(out, s.text, arrival_ms);
        break;
      case Segment::Kind::kField: {
        auto v = json_.KeyField(line, s.field);
        if (!v.ok()) {
          const std::string& m = v.status().message();
          error->code = m.starts_with("invalid JSON") ? "InvalidJson"
                        : m.ends_with("is missing")   ? "PartitionKeyMissing"
                                                      : "InvalidPartitionValue";
          error->message = m;
          return false;
        }
        if (!SafeComponent(*v)) {
          error->code = "InvalidPartitionValue";
          error->message = "field '" + s.field.text() + "' is not usable in a path";
          return false;
        }
        out += *v;
        break;
      }
    }
  }
  if (out.size() > kMaxPrefixChars) {
    error->code = "InvalidPartitionValue";
    error->message = "the prefix is longer than " + std::to_string(kMaxPrefixChars) + " characters";
    return false;
  }
  return true;
}

std::string DeliveredFileName(std::string_view stream, int64_t first_arrival_ms, uint64_t shard,
                              const SequenceNumber& first, const SequenceNumber& last,
                              std::string_view extension) {
  std::string name(stream);
  name += '-';
  AppendTimeFormat(name, "yyyy-MM-dd-HH-mm-ss", first_arrival_ms);
  name += '-';
  name += ShardIdFor(shard);
  name += '-';
  name += ToDecimal(first);
  name += '-';
  name += ToDecimal(last);
  name += extension;
  return name;
}

}  // namespace kstream
