// FieldValue: one field of an input record as the window tool sees it, and the
// conversions the aggregates and the --where expression need.
#pragma once

#include <charconv>
#include <cstdint>
#include <string_view>

namespace kstream::window {

struct FieldValue {
  enum class Kind : uint8_t { kMissing, kNull, kBool, kNumber, kString, kRaw };
  Kind kind = Kind::kMissing;
  // kString: the (unescaped) contents; kNumber, kBool: the JSON text;
  // kRaw: the JSON text of an object or array. Valid until the next record.
  std::string_view text;
  // kNumber from JSON input: the parsed value (text is then its shortest form).
  bool has_number = false;
  double number = 0;

  bool present() const { return kind != Kind::kMissing; }
  // The value as a number: a JSON number or a string holding one.
  bool ToNumber(double& out) const {
    if (has_number) {
      out = number;
      return true;
    }
    if (kind != Kind::kNumber && kind != Kind::kString) return false;
    return ParseNumber(text, out);
  }
  // Whole-text decimal number ("12", "-0.5", "1e3", " 7" is not).
  static bool ParseNumber(std::string_view s, double& out) {
    if (s.empty()) return false;
    const char* b = s.data();
    const char* e = b + s.size();
    const char* d = *b == '-' ? b + 1 : b;
    if (d == e || !((*d >= '0' && *d <= '9') || *d == '.')) return false;  // no inf, nan
    auto [p, ec] = std::from_chars(b, e, out);
    return ec == std::errc() && p == e;
  }
};

// True when s is a number in JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s);

}  // namespace kstream::window
