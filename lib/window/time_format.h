// Event times from a field: epoch seconds or milliseconds (numbers or numeric
// strings), ISO-8601, or a strftime-style pattern. Results are epoch ms.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "window/value.h"

namespace kstream::window {

class TimeFormat {
 public:
  enum class Kind {
    kAuto,
    kEpochSeconds,
    kEpochMillis,
    kEpochMicros,
    kEpochNanos,
    kIso8601,
    kPattern
  };

  // "auto" (default), "epoch" (seconds), "epoch_ms", "epoch_us", "epoch_ns",
  // "iso8601", or a pattern with % directives: %Y %m %d %e %H %M %S %f
  // (fraction), %y %b %B %h (English month names) %p %I %j %z %Z %s %T %F
  // %D %%; a space matches any run of spaces.
  static Result<TimeFormat> Parse(std::string_view spec);

  // Epoch milliseconds of v; false when v is not a time in this format.
  // auto: a number (or numeric string) below 1e11 is seconds, else ms
  // (1e11 s is the year 5138); other strings are ISO-8601.
  bool ToMillis(const FieldValue& v, int64_t& ms) const;

  Kind kind() const { return kind_; }

 private:
  bool FromPattern(std::string_view s, int64_t& ms) const;
  Kind kind_ = Kind::kAuto;
  std::string pattern_;
};

}  // namespace kstream::window
