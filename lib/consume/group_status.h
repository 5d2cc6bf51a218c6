// What `kstream group` shows: each shard's lease owner, checkpoint and lag.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "consume/lease.h"
#include "store/backend.h"

namespace kstream {

struct ShardProgress {
  Lease lease;
  bool open = true;          // the shard is open (not closed by resharding)
  bool live = false;         // its lease is owned and not expired
  uint64_t lag_records = 0;  // records held after the checkpoint
  int64_t lag_ms = 0;        // newest record's arrival minus the next unprocessed one's
};

struct GroupStatus {
  std::string stream, group;
  std::vector<ShardProgress> shards;  // by shard index
  std::vector<std::string> workers;   // live owners, sorted
  uint64_t lag_records = 0;           // sum over shards
  int64_t lag_ms = 0;                 // max over shards
};

// Reads the group's table and measures each shard's lag at `now`.
Result<GroupStatus> GetGroupStatus(Backend& backend, LeaseTable& table, const std::string& stream,
                                   const std::string& group, int64_t now);

// Points every shard's checkpoint at `start` again (TRIM_HORIZON, LATEST or
// AT_TIMESTAMP), as for a new group. Refused while a worker holds a lease.
Status ResetGroup(Backend& backend, LeaseTable& table, const std::string& stream,
                  const StartPosition& start, int64_t now);

}  // namespace kstream
