// The consumer loop of kstream-get: reads a stream's shards (all of them,
// parents before children, or a chosen few), round-robin or merged by arrival
// time, once to the end or following new records as they land.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "consume/deaggregate.h"
#include "core/stop_flag.h"
#include "io/record_writer.h"
#include "store/backend.h"

namespace kstream {

struct ConsumerStats {
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t corrupt = 0;    // damaged records skipped
  uint64_t malformed = 0;  // malformed KPL aggregates passed on raw
};

struct ConsumerOptions {
  std::vector<uint64_t> shards;  // empty: every shard, following lineage
  StartPosition start;
  bool follow = false;
  std::optional<uint64_t> limit;
  bool ordered = false;            // merge shards by arrival time
  bool deaggregate = true;         // KPL aggregates as their user records
  int metadata_refresh_ms = 1000;  // how often a follower looks for new shards
  std::function<void(const ConsumerStats&)> on_progress;  // after each pass
};

// Writes records to out until the end (or forever with follow), the limit, a
// closed output pipe, or *stop.
Status RunConsumer(Backend& backend, const std::string& stream, const ConsumerOptions& options,
                   RecordWriter& out, ConsumerStats& stats, const StopFlag* stop);

}  // namespace kstream
