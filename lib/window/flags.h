// The command line of kstream-window as typed (strings), and its checked
// translation into a WindowConfig. Errors are usage errors (exit 2).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "window/processor.h"

namespace kstream::window {

struct WindowFlags {
  std::string tumbling, sliding, every, session;  // durations
  std::vector<std::string> group_by;              // F or F,G (repeatable)
  bool count = false;
  std::vector<std::string> sum, avg, min, max, distinct;  // F or F,G (repeatable)
  std::vector<std::string> top;                           // K:F
  std::vector<std::string> percentile;                    // F:P[,P...]
  std::string where;
  std::string time_field, time_format = "auto", allowed_lateness;
  bool emit_empty = false;
  bool csv = false;
  std::string delimiter = ",";
  std::string header;  // CSV column names, comma-separated whatever the delimiter
};

// Aggregates come out in a fixed order: count, sum, avg, min, max,
// distinct, top, percentiles (each in the order given).
Result<WindowConfig> ConfigFromFlags(const WindowFlags& flags);

}  // namespace kstream::window
