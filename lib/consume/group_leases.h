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

// Adds a lease for every shard the table lacks: the InitialLeases when the
// group does not exist yet, else TRIM_HORIZON (children are read from their
// start). Cheap when nothing changed: *known_shards caches the shard count
// seen last (start it at 0).
Status SyncLeases(Backend& backend, const std::string& stream, LeaseTable& table,
                  const StartPosition& start, size_t* known_shards);

}  // namespace kstream
