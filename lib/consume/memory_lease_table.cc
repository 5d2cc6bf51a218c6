#include "consume/memory_lease_table.h"

#include <algorithm>

namespace kstream {

Status MemoryLeaseTable::Add(std::span<const Lease> leases) {
  for (const Lease& l : leases)
    if (std::none_of(leases_.begin(), leases_.end(),
                     [&](const Lease& e) { return e.shard == l.shard; }))
      leases_.push_back(l);
  std::sort(leases_.begin(), leases_.end(),
            [](const Lease& a, const Lease& b) { return a.shard < b.shard; });
  return Status::Ok();
}

Result<std::vector<bool>> MemoryLeaseTable::Apply(std::span<const LeaseUpdate> updates) {
  std::vector<bool> applied(updates.size(), false);
  for (size_t i = 0; i < updates.size(); ++i) {
    for (Lease& l : leases_) {
      if (l.shard != updates[i].lease.shard) continue;
      if (l.counter == updates[i].expected_counter && l.owner == updates[i].expected_owner) {
        l = updates[i].lease;
        applied[i] = true;
      }
      break;
    }
  }
  return applied;
}

Result<size_t> MemoryLeaseTable::RemoveFinished(std::span<const uint64_t> shards) {
  return std::erase_if(leases_, [&](const Lease& l) { return FinishedIn(l, shards); });
}

}  // namespace kstream
