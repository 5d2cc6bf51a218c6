#include "window/time_format.h"

#include <cmath>

#include "core/text.h"

namespace kstream::window {
namespace {

constexpr const char* kMonths[] = {"january",   "february", "march",    "april",
                                   "may",       "june",     "july",     "august",
                                   "september", "october",  "november", "december"};

bool ScaledToMillis(double v, double scale, int64_t& ms) {
  const double r = v * scale;
  if (!std::isfinite(r) || std::fabs(r) > 9.2e18) return false;
  ms = int64_t(std::floor(r + 0.5));
  return true;
}

char Lower(char c) {
  return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

// Reads up to `max` digits (at least one) at s[i].
bool Num(std::string_view s, size_t& i, int max, int64_t& out) {
  const size_t start = i;
  out = 0;
  while (i < s.size() && i - start < size_t(max) && s[i] >= '0' && s[i] <= '9')
    out = out * 10 + (s[i++] - '0');
  return i > start;
}

// The parts a pattern fills in.
struct Parts {
  int64_t year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0;
  int64_t yday = -1, offset_min = 0, epoch = 0;
  bool pm = false, has_ampm = false, has_epoch = false;
};

// A full English month name or its three-letter abbreviation, any case.
bool MonthName(std::string_view s, size_t& i, int64_t& month) {
  auto matches = [&](std::string_view name) {
    if (s.size() - i < name.size()) return false;
    for (size_t k = 0; k < name.size(); ++k)
      if (Lower(s[i + k]) != name[k]) return false;
    return true;
  };
  for (size_t len : {size_t(9), size_t(3)}) {
    for (int m = 0; m < 12; ++m) {
      const std::string_view name = std::string_view(kMonths[m]).substr(0, len);
      if (matches(name)) {
        i += name.size();
        month = m + 1;
        return true;
      }
    }
  }
  return false;
}

bool Zone(std::string_view s, size_t& i, int64_t& offset_min) {
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
    offset_min = 0;
    return true;
  }
  if (s.substr(i, 3) == "UTC" || s.substr(i, 3) == "GMT") {
    i += 3;
    offset_min = 0;
    return true;
  }
  if (i >= s.size() || (s[i] != '+' && s[i] != '-')) return false;
  const int sign = s[i++] == '-' ? -1 : 1;
  int64_t h, m = 0;
  const size_t start = i;
  if (!Num(s, i, 2, h) || i - start != 2) return false;
  if (i < s.size() && s[i] == ':') ++i;
  const size_t ms = i;
  if (Num(s, i, 2, m) && i - ms != 2) return false;
  offset_min = sign * (h * 60 + m);
  return true;
}

// One directive at format position f (after '%'); false on a mismatch.
bool Directive(char d, std::string_view s, size_t& i, Parts& p) {
  int64_t v;
  switch (d) {
    case 'Y': {
      const bool neg = i < s.size() && s[i] == '-';
      if (neg) ++i;
      if (!Num(s, i, 4, v)) return false;
      p.year = neg ? -v : v;
      return true;
    }
    case 'y':
      if (!Num(s, i, 2, v)) return false;
      p.year = v < 69 ? 2000 + v : 1900 + v;
      return true;
    case 'm':
      return Num(s, i, 2, p.month) && p.month >= 1 && p.month <= 12;
    case 'd':
    case 'e':
      while (d == 'e' && i < s.size() && s[i] == ' ') ++i;
      return Num(s, i, 2, p.day) && p.day >= 1 && p.day <= 31;
    case 'H':
      return Num(s, i, 2, p.hour) && p.hour <= 23;
    case 'I':
      return Num(s, i, 2, p.hour) && p.hour >= 1 && p.hour <= 12;
    case 'M':
      return Num(s, i, 2, p.minute) && p.minute <= 59;
    case 'S':
      return Num(s, i, 2, p.second) && p.second <= 60;
    case 'j':
      return Num(s, i, 3, p.yday) && p.yday >= 1 && p.yday <= 366;
    case 'f': {
      const size_t start = i;
      if (!Num(s, i, 18, v)) return false;
      int64_t ms = 0, scale = 100;
      for (size_t k = start; k < i && scale > 0; ++k, scale /= 10) ms += (s[k] - '0') * scale;
      p.millis = ms;
      return true;
    }
    case 'b':
    case 'B':
    case 'h':
      return MonthName(s, i, p.month);
    case 'p':
      if (s.size() - i < 2 || Lower(s[i + 1]) != 'm') return false;
      if (Lower(s[i]) != 'a' && Lower(s[i]) != 'p') return false;
      p.pm = Lower(s[i]) == 'p';
      p.has_ampm = true;
      i += 2;
      return true;
    case 'z':
    case 'Z':
      return Zone(s, i, p.offset_min);
    case 's': {
      const bool neg = i < s.size() && s[i] == '-';
      if (neg) ++i;
      // 12 digits reach past the year 9999; more would overflow the ms.
      if (!Num(s, i, 12, v)) return false;
      p.epoch = neg ? -v : v;
      p.has_epoch = true;
      return true;
    }
    case 'T':
      return Directive('H', s, i, p) && i < s.size() && s[i++] == ':' && Directive('M', s, i, p) &&
             i < s.size() && s[i++] == ':' && Directive('S', s, i, p);
    case 'F':
      return Directive('Y', s, i, p) && i < s.size() && s[i++] == '-' && Directive('m', s, i, p) &&
             i < s.size() && s[i++] == '-' && Directive('d', s, i, p);
    case 'D':
      return Directive('m', s, i, p) && i < s.size() && s[i++] == '/' && Directive('d', s, i, p) &&
             i < s.size() && s[i++] == '/' && Directive('y', s, i, p);
    case '%':
      return i < s.size() && s[i++] == '%';
    default:
      return false;
  }
}

}  // namespace

Result<TimeFormat> TimeFormat::Parse(std::string_view spec) {
  TimeFormat f;
  if (spec == "auto")
    f.kind_ = Kind::kAuto;
  else if (spec == "epoch" || spec == "epoch_s" || spec == "s")
    f.kind_ = Kind::kEpochSeconds;
  else if (spec == "epoch_ms" || spec == "ms")
    f.kind_ = Kind::kEpochMillis;
  else if (spec == "epoch_us" || spec == "us")
    f.kind_ = Kind::kEpochMicros;
  else if (spec == "epoch_ns" || spec == "ns")
    f.kind_ = Kind::kEpochNanos;
  else if (spec == "iso8601" || spec == "iso")
    f.kind_ = Kind::kIso8601;
  else if (spec.find('%') != std::string_view::npos) {
    static constexpr std::string_view kKnown = "YmdeHIMSjfbBhpzZsTFD%y";
    for (size_t i = 0; i < spec.size(); ++i) {
      if (spec[i] != '%') continue;
      if (i + 1 == spec.size() || kKnown.find(spec[i + 1]) == std::string_view::npos)
        return Status::InvalidArgument("invalid --time-format '" + std::string(spec) +
                                       "': unsupported directive at position " +
                                       std::to_string(i + 1));
      ++i;
    }
    f.kind_ = Kind::kPattern;
    f.pattern_ = std::string(spec);
  } else {
    return Status::InvalidArgument("invalid --time-format '" + std::string(spec) +
                                   "' (use auto, epoch, epoch_ms, epoch_us, epoch_ns, iso8601, "
                                   "or a pattern like '%Y-%m-%d %H:%M:%S')");
  }
  return f;
}

bool TimeFormat::ToMillis(const FieldValue& v, int64_t& ms) const {
  if (v.kind != FieldValue::Kind::kNumber && v.kind != FieldValue::Kind::kString) return false;
  double num;
  switch (kind_) {
    case Kind::kAuto:
      if (v.ToNumber(num)) return ScaledToMillis(num, std::fabs(num) < 1e11 ? 1000 : 1, ms);
      if (v.kind != FieldValue::Kind::kString) return false;
      [[fallthrough]];
    case Kind::kIso8601: {
      if (v.text.empty() || v.text[0] < '0' || v.text[0] > '9') return false;
      auto r = ParseTimestamp(v.text);
      if (!r.ok() || v.text.find('-') == std::string_view::npos) return false;
      ms = *r;
      return true;
    }
    case Kind::kEpochSeconds:
      return v.ToNumber(num) && ScaledToMillis(num, 1000, ms);
    case Kind::kEpochMillis:
      return v.ToNumber(num) && ScaledToMillis(num, 1, ms);
    case Kind::kEpochMicros:
      return v.ToNumber(num) && ScaledToMillis(num, 1e-3, ms);
    case Kind::kEpochNanos:
      return v.ToNumber(num) && ScaledToMillis(num, 1e-6, ms);
    case Kind::kPattern:
      return FromPattern(v.text, ms);
  }
  return false;
}

bool TimeFormat::FromPattern(std::string_view s, int64_t& ms) const {
  Parts p;
  size_t i = 0;
  const std::string_view f = pattern_;
  for (size_t k = 0; k < f.size(); ++k) {
    if (f[k] == '%') {
      if (!Directive(f[++k], s, i, p)) return false;
    } else if (f[k] == ' ') {
      while (i < s.size() && s[i] == ' ') ++i;
    } else if (i >= s.size() || s[i++] != f[k]) {
      return false;
    }
  }
  if (i != s.size()) return false;
  if (p.has_epoch) {
    ms = p.epoch * 1000 + p.millis;
    return true;
  }
  if (p.has_ampm) p.hour = p.hour % 12 + (p.pm ? 12 : 0);
  int64_t days = p.yday > 0 ? DaysFromCivil(p.year, 1, 1) + p.yday - 1
                            : DaysFromCivil(p.year, unsigned(p.month), unsigned(p.day));
  ms = (((days * 24 + p.hour) * 60 + p.minute - p.offset_min) * 60 + p.second) * 1000 + p.millis;
  return true;
}

}  // namespace kstream::window
