// Keeping a group's lease table in step with the stream's shards: one lease
// per shard, created when a group starts and when resharding adds children.
#pragma once

#include <string>
#include <vector>

#include "consume/lease.h"
#include "store/backend.h"

namespace kstream {

// The leases a new group starts with, one per shard of the stream, all free.
// TRIM_HORIZON and AT_TIMESTAMP become the checkpoint of every shard. LATEST
// is fixed now: each open shard is checkpointed at its newest record and each
// closed shard at SHARD_END, so "from now on" does not move when a lease
// changes hands before its first checkpoint.
Result<std::vector<Lease>> InitialLeases(Backend& backend, const std::string& stream,
                                         const StartPosition& start);

// The shape of the shard map SyncLeases saw last: shards are only ever
// added (next_shard_index grows) or removed (expired: the count drops).
struct ShardMapSeen {
  uint64_t next_shard_index = 0;
  size_t shards = 0;
  bool operator==(const ShardMapSeen&) const = default;
};

// Adds a lease for every shard the table lacks: the InitialLeases when the
// group does not exist yet, else TRIM_HORIZON (children are read from their
// start). Deletes the finished (SHARD_END) leases of shards no longer in the
// stream, as the KCL's lease cleanup does; an unfinished one stays until a
// worker takes it and finds its shard gone (then it is at its end). Cheap
// when the map did not change since *seen (start from {}; reset it to look
// again, e.g. after a lease reached SHARD_END).
Status SyncLeases(Backend& backend, const std::string& stream, LeaseTable& table,
                  const StartPosition& start, ShardMapSeen* seen);

}  // namespace kstream
