// Carrying out resharding plans on a Backend, and autoscaling from the load
// measured in the stream itself (the scaling utility's role).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "scale/plan.h"
#include "store/backend.h"

namespace kstream {

// Kinesis's per-shard write capacity, which the autoscaler measures against.
inline constexpr double kShardRecordsPerSecond = 1000;
inline constexpr double kShardBytesPerSecond = 1024 * 1024;

// Runs the operations in order. Each looks its shards up by hash key in the
// current map, so the ids it reports are the ones the store assigned. Stops
// at the first failure; the steps done so far stay done (each is atomic).
Status ExecuteOps(Backend& backend, const std::string& stream, std::vector<ReshardOp>& ops,
                  const std::function<void(const ReshardOp&)>& on_done);

struct AutoscaleOptions {
  int64_t period_ms = 5 * 60 * 1000;    // the window judged
  int64_t sample_ms = 60 * 1000;        // one sample's width within it
  double up_threshold_pct = 80;         // every sample at or above: scale up
  double down_threshold_pct = 20;       // every sample at or below: scale down
  int64_t cool_off_ms = 5 * 60 * 1000;  // after any reshard, wait this long
  std::optional<int> up_count, down_count;
  std::optional<double> up_pct = 100, down_pct = 50;
  int min_shards = 1;
  int max_shards = 10000;
};

struct LoadSample {
  int64_t start_ms = 0;
  double records_per_s = 0;
  double bytes_per_s = 0;
  double utilisation_pct = 0;  // of the open shards' capacity, records or bytes, the higher
  bool saturated = false;      // counting stopped past twice the capacity: a lower bound
};

struct Decision {
  enum class Action { kNone, kUp, kDown } action = Action::kNone;
  int open = 0;
  int target = 0;
  std::vector<LoadSample> samples;
  std::string reason;  // the numbers behind it, for the user
};

// Measures the write load of the last period (from the records' arrival
// times) and decides. Reading stops early in a sample once it is clearly over
// capacity, so the cost stays bounded however busy the stream is.
Result<Decision> DecideAutoscale(Backend& backend, const std::string& stream,
                                 const AutoscaleOptions& options, int64_t now_ms);

}  // namespace kstream
