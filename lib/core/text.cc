#include "core/text.h"

#include <array>
#include <charconv>
#include <cmath>
#include <ctime>

namespace kstream {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

std::string Quote(std::string_view s) {
  std::string q(1, '\'');
  q.append(s.substr(0, 80));
  q += '\'';
  return q;
}

// Parses a non-negative decimal with an optional fraction; rest gets the suffix.
bool ParseNumberPrefix(std::string_view text, double& value, std::string_view& rest) {
  size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + i, value);
  if (ec != std::errc() || p != text.data() + i) return false;
  rest = text.substr(i);
  return true;
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool ParseIso8601(std::string_view s, int64_t& ms) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!Digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
      !Digits(s, 8, 2, d))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  size_t i = 10;
  int64_t frac_ms = 0;
  if (i < s.size() && (s[i] == 'T' || s[i] == ' ')) {
    if (!Digits(s, i + 1, 2, h) || i + 3 >= s.size() || s[i + 3] != ':' || !Digits(s, i + 4, 2, mi))
      return false;
    i += 6;
    if (i < s.size() && s[i] == ':') {
      if (!Digits(s, i + 1, 2, sec)) return false;
      i += 3;
      if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
        ++i;
        int64_t scale = 100;
        size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          frac_ms += (s[i] - '0') * scale;
          scale /= 10;
          ++i;
        }
        if (i == start) return false;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return false;
  }
  int64_t offset_min = 0;
  if (i < s.size()) {
    if (s[i] == 'Z' || s[i] == 'z') {
      ++i;
    } else if (s[i] == '+' || s[i] == '-') {
      int oh, om = 0;
      if (!Digits(s, i + 1, 2, oh)) return false;
      size_t j = i + 3;
      if (j < s.size() && s[j] == ':') ++j;
      if (j < s.size() && !Digits(s, j, 2, om)) return false;
      if (j < s.size()) j += 2;
      offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
      i = j;
    }
  }
  if (i != s.size()) return false;
  int64_t days = DaysFromCivil(y, unsigned(mo), unsigned(d));
  ms = ((days * 24 + h) * 60 + mi - offset_min) * 60000 + int64_t(sec) * 1000 + frac_ms;
  return true;
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

Status ValidateStreamName(std::string_view name) {
  if (name.empty() || name.size() > 128)
    return Status::InvalidArgument("invalid stream name " + Quote(name) +
                                   ": must be 1-128 characters of [A-Za-z0-9_.-]");
  for (char c : name)
    if (!IsNameChar(c))
      return Status::InvalidArgument("invalid stream name " + Quote(name) +
                                     ": only letters, digits, '_', '.' and '-' are allowed");
  if (name == "." || name == "..")
    return Status::InvalidArgument("invalid stream name " + Quote(name));
  return Status::Ok();
}

std::string ShardIdFor(uint64_t index) {
  // Formatted per record in JSON output, so by hand rather than snprintf.
  char digits[20];
  int n = 0;
  do {
    digits[n++] = char('0' + index % 10);
    index /= 10;
  } while (index != 0);
  std::string id = "shardId-";
  id.append(n < 12 ? size_t(12 - n) : 0, '0');
  while (n > 0) id += digits[--n];
  return id;
}

Result<uint64_t> ParseShardId(std::string_view text) {
  std::string_view digits = text;
  if (digits.substr(0, 8) == "shardId-") digits.remove_prefix(8);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size())
    return Status::InvalidArgument("invalid shard id " + Quote(text) +
                                   " (expected shardId-000000000000 or a shard number)");
  return v;
}

Result<int64_t> ParseDuration(std::string_view text) {
  double v;
  std::string_view unit;
  if (!ParseNumberPrefix(text, v, unit))
    return Status::InvalidArgument("invalid duration " + Quote(text) +
                                   " (examples: 500ms, 5s, 2m, 1h)");
  double scale;
  if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "ms")
    scale = 1;
  else if (unit == "us")
    scale = 0.001;
  else if (unit == "m" || unit == "min")
    scale = 60000;
  else if (unit == "h")
    scale = 3600000;
  else if (unit == "d")
    scale = 86400000;
  else
    return Status::InvalidArgument("invalid duration " + Quote(text) +
                                   ": unknown unit (use ms, s, m, h or d)");
  double ms = v * scale;
  if (ms > 9.2e15) return Status::InvalidArgument("duration " + Quote(text) + " is too long");
  return int64_t(std::llround(ms));
}

Result<uint64_t> ParseSize(std::string_view text) {
  double v;
  std::string_view unit;
  if (!ParseNumberPrefix(text, v, unit))
    return Status::InvalidArgument("invalid size " + Quote(text) + " (examples: 512, 64KiB, 5MiB)");
  double scale;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "K" || unit == "KiB" || unit == "k")
    scale = 1024.0;
  else if (unit == "M" || unit == "MiB")
    scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "GiB")
    scale = 1024.0 * 1024 * 1024;
  else if (unit == "KB" || unit == "kB")
    scale = 1e3;
  else if (unit == "MB")
    scale = 1e6;
  else if (unit == "GB")
    scale = 1e9;
  else
    return Status::InvalidArgument("invalid size " + Quote(text) +
                                   ": unknown unit (use KiB, MiB, GiB, KB, MB or GB)");
  double bytes = v * scale;
  if (bytes > 1.8e19) return Status::InvalidArgument("size " + Quote(text) + " is too large");
  return uint64_t(std::llround(bytes));
}

Result<int64_t> ParseTimestamp(std::string_view text) {
  int64_t ms;
  if (ParseIso8601(text, ms)) return ms;
  double v;
  std::string_view unit;
  if (ParseNumberPrefix(text, v, unit) && (unit.empty() || unit == "s" || unit == "ms")) {
    const double scaled = unit == "ms" ? v : v * 1000;
    // Years 0000 to 9999, as ISO-8601 writes them: also keeps the rounding
    // below away from values an int64 cannot hold.
    constexpr double kMinMs = -62167219200000.0, kMaxMs = 253402300799999.0;
    if (scaled >= kMinMs && scaled <= kMaxMs) return int64_t(std::llround(scaled));
    return Status::InvalidArgument("timestamp " + Quote(text) +
                                   " is outside the years 0000 to 9999");
  }
  return Status::InvalidArgument("invalid timestamp " + Quote(text) +
                                 " (use ISO-8601 like 2024-05-01T12:00:00Z, epoch seconds, "
                                 "or epoch milliseconds like 1714564800000ms)");
}

std::string FormatTimestamp(int64_t epoch_ms) {
  time_t secs = time_t(epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000);
  int ms = int(epoch_ms - int64_t(secs) * 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

void AppendEpochSeconds(std::string& out, int64_t epoch_ms) {
  if (epoch_ms < 0) {
    out += '-';
    epoch_ms = -epoch_ms;
  }
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), epoch_ms / 1000);
  (void)ec;
  out.append(buf, p);
  int ms = int(epoch_ms % 1000);
  out += '.';
  out += char('0' + ms / 100);
  out += char('0' + ms / 10 % 10);
  out += char('0' + ms % 10);
}

void AppendBase64(std::string& out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  size_t start = out.size();
  out.resize(start + (n + 2) / 3 * 4);
  char* o = out.data() + start;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8) | p[i + 2];
    *o++ = kB64[v >> 18];
    *o++ = kB64[(v >> 12) & 63];
    *o++ = kB64[(v >> 6) & 63];
    *o++ = kB64[v & 63];
  }
  if (i < n) {
    uint32_t v = uint32_t(p[i]) << 16;
    if (i + 1 < n) v |= uint32_t(p[i + 1]) << 8;
    *o++ = kB64[v >> 18];
    *o++ = kB64[(v >> 12) & 63];
    *o++ = i + 1 < n ? kB64[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
}

bool DecodeBase64(std::string_view text, std::string& out) {
  static const auto kRev = [] {
    std::array<int8_t, 256> r{};
    r.fill(-1);
    for (int i = 0; i < 64; ++i) r[static_cast<unsigned char>(kB64[i])] = int8_t(i);
    return r;
  }();
  if (text.size() % 4 != 0) return false;
  out.clear();
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int a = kRev[static_cast<unsigned char>(text[i])];
    int b = kRev[static_cast<unsigned char>(text[i + 1])];
    if (a < 0 || b < 0) return false;
    bool last = i + 4 == text.size();
    char c3 = text[i + 2], c4 = text[i + 3];
    if (last && c3 == '=' && c4 == '=') {
      out += char((a << 2) | (b >> 4));
      return true;
    }
    int c = kRev[static_cast<unsigned char>(c3)];
    if (c < 0) return false;
    if (last && c4 == '=') {
      out += char((a << 2) | (b >> 4));
      out += char(((b & 15) << 4) | (c >> 2));
      return true;
    }
    int d = kRev[static_cast<unsigned char>(c4)];
    if (d < 0) return false;
    out += char((a << 2) | (b >> 4));
    out += char(((b & 15) << 4) | (c >> 2));
    out += char(((c & 3) << 6) | d);
  }
  return true;
}

namespace {
// Length of the valid UTF-8 sequence at s[i], or 0 when it is not valid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0)
    len = 2, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0)
    len = 3, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0)
    len = 4, cp = c & 0x07;
  else
    return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}
}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      out += char(c);
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out += "\xef\xbf\xbd";
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default: {
        char buf[8];
        snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      }
    }
    ++i;
  }
  out += '"';
}

}  // namespace kstream
