// A consumer-group worker (kstream-get --group): processes the shards whose
// leases it holds, hands their records to a BatchHandler, and checkpoints
// what was delivered, KCL style.
//
// Delivery is at least once. A checkpoint names the last record delivered
// (written and flushed, or its --exec batch succeeded) and is written every
// checkpoint_interval_ms, when a shard ends (SHARD_END), and at shutdown. A
// worker that dies loses only its checkpoints' lag: whoever takes its leases
// resumes after them, so at most the records delivered in the last interval
// (plus the batch in hand) are delivered again. When live workers rebalance,
// the records the victim of a steal delivered after its last checkpoint and
// before it noticed (it looks every 250 ms while delivering) repeat too.
//
// A deferring handler (BatchHandler::defers_delivery, kstream-deliver) is
// checkpointed only as far as its Delivered() says: records it holds in a
// buffer when the worker stops or fails are read again by the next owner.
//
// Shards are read in sequence order; a child only once its parents are at
// SHARD_END (LeaseReady), so each partition key keeps its put order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "consume/batch_handler.h"
#include "consume/lease.h"
#include "core/env.h"
#include "core/stop_flag.h"
#include "store/backend.h"

namespace kstream {

struct GroupStats {
  uint64_t records = 0;  // delivered
  uint64_t bytes = 0;
  uint64_t corrupt = 0;    // damaged records skipped
  uint64_t malformed = 0;  // malformed KPL aggregates passed on raw
};

struct GroupOptions {
  std::string group;
  std::string worker;                // unique among the group's live workers
  int64_t lease_timeout_ms = 10000;  // renewed every third of it
  int64_t checkpoint_interval_ms = 1000;
  StartPosition start;                                 // where a new group starts
  bool follow = false;                                 // else stop once the held shards are read
  bool deaggregate = true;                             // KPL aggregates as their user records
  std::optional<uint64_t> limit;                       // stop after this many records delivered
  std::function<void(const std::string&)> log;         // lease and checkpoint events (verbose)
  std::function<void(const GroupStats&)> on_progress;  // after each pass
};

// Runs until *stop (SIGINT/SIGTERM), the limit, a closed output, the end of
// the held shards without follow, or an error. On the way out it delivers
// the batch in hand, writes the final checkpoints and releases every lease,
// so other workers take them at once.
Status RunGroupWorker(Backend& backend, LeaseTable& table, Env* env, const std::string& stream,
                      const GroupOptions& options, BatchHandler& handler, GroupStats& stats,
                      const StopFlag* stop);

// hostname:pid, the default worker id.
std::string DefaultWorkerId();

}  // namespace kstream
