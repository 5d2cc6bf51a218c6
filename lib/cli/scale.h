// The work of kstream-scale: resharding commands and autoscaling, over any
// Backend; summaries to `out` (stdout), progress to stderr.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/stop_flag.h"
#include "scale/scaler.h"

namespace kstream::cli {

struct ScaleCommand {
  std::string stream;
  std::string action;  // up, down, resize, split, merge, auto, report
  std::optional<int> count;
  std::optional<double> pct;
  int target = 0;                   // resize
  std::vector<std::string> shards;  // split (1), merge (2)
  std::optional<uint128> at;        // split
  int min_shards = 1;
  int max_shards = 10000;
  bool dry_run = false;
  bool json = false;
  bool quiet = false;
  bool verbose = false;
  AutoscaleOptions autoscale;
  bool once = false;
  int64_t check_interval_ms = 0;  // auto without --once: 0 = the sample width
};

// Checks the command's arguments (usage errors: InvalidArgument).
Status ValidateScaleCommand(ScaleCommand& c);
// Runs it. `stop` ends `auto` between checks.
Status RunScaleCommand(Backend& backend, const ScaleCommand& c, const StopFlag* stop);

}  // namespace kstream::cli
