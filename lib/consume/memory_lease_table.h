// MemoryLeaseTable: a lease table of one process, kept in memory, for a
// reader that wants a consumer-group worker's shard handling (parents before
// children, per-shard hand-over) without sharing or keeping checkpoints:
// kstream-window --stream without --group. Not thread-safe.
#pragma once

#include <vector>

#include "consume/lease.h"

namespace kstream {

class MemoryLeaseTable final : public LeaseTable {
 public:
  Result<std::vector<Lease>> List() override { return leases_; }
  Status Add(std::span<const Lease> leases) override;
  Result<std::vector<bool>> Apply(std::span<const LeaseUpdate> updates) override;
  Status Replace(std::span<const Lease> leases, int64_t /*now*/) override {
    leases_.assign(leases.begin(), leases.end());
    return Status::Ok();
  }
  Result<size_t> RemoveFinished(std::span<const uint64_t> shards) override;
  Status Delete(int64_t /*now*/) override {
    leases_.clear();
    return Status::Ok();
  }

 private:
  std::vector<Lease> leases_;
};

}  // namespace kstream
