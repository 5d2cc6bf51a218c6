// LeaseCoordinator: one worker's side of the KCL lease protocol over a
// LeaseTable (reference: kinesis-api.md §6).
//
// - A lease is live while its owner renews it within the owner's timeout;
//   the owner renews all its leases every timeout/3.
// - Balance() takes free and expired leases up to the worker's share
//   (ceil(S/N) of the S ready leases among the N live workers, this one
//   included), and when there are none, steals one lease from the most loaded
//   worker. Repeated by every worker, that settles at ceil or floor(S/N) each.
// - A lease is ready when it is not at SHARD_END and every parent lease in
//   the table is: children are only taken after their parents were read to
//   the end, so per partition key order survives resharding.
// - Every write is conditional on the counter and owner last seen: a worker
//   that lost a lease (stolen, or expired while it stalled) can neither renew
//   nor checkpoint it, and learns so from the failed write.
//
// Time comes from Env::NowMillis (wall clock, shared by every process on the
// host). Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "consume/lease.h"
#include "core/env.h"

namespace kstream {

// Whether a lease may be processed now (see above). A parent without a lease
// in the table counts as finished (its shard was never part of the group).
bool LeaseReady(const Lease& lease, const std::vector<Lease>& all);

struct AcquirePlan {
  std::vector<uint64_t> take;     // free or expired ready leases, up to the share
  std::optional<uint64_t> steal;  // one lease of the most loaded worker
};

// What worker `me` should take at `now`, by the KCL's count-based taker.
AcquirePlan PlanAcquire(const std::vector<Lease>& leases, const std::string& me, int64_t now);

class LeaseCoordinator {
 public:
  struct Options {
    std::string worker;
    int64_t timeout_ms = 10000;
    std::function<void(const std::string&)> log;  // lease events (verbose); may be empty
  };
  struct CheckpointWrite {
    uint64_t shard = 0;
    Checkpoint checkpoint;
    bool release = false;  // give the lease up in the same write
  };

  LeaseCoordinator(LeaseTable* table, Env* env, Options options);

  // Renews every held lease once timeout/3 passed since the last renewal.
  // A lease whose renewal fails is lost (see TakeLost).
  Status RenewIfDue();
  // Reads the table and drops the leases it shows taken by others (a thief
  // does not tell its victim), so the victim stops before its next renewal.
  Status Verify();
  // RenewIfDue, Verify, then takes or steals per PlanAcquire. New leases are
  // reported by TakeAcquired.
  Status Balance();
  // Leases gained and lost since the last call of each.
  std::vector<Lease> TakeAcquired();
  std::vector<uint64_t> TakeLost();

  // Writes checkpoints of held leases; a failed write means the lease was lost.
  Status Checkpoint(std::span<const CheckpointWrite> writes);
  // Gives up every held lease, keeping its checkpoint.
  Status ReleaseAll();

  bool holds(uint64_t shard) const { return held_.count(shard) != 0; }
  size_t held_count() const { return held_.size(); }
  // When RenewIfDue will next have work.
  int64_t next_renewal_ms() const { return last_renewal_ms_ + options_.timeout_ms / 3; }
  const std::string& worker() const { return options_.worker; }

 private:
  // Applies updates; the applied ones become held (or released), the others lost.
  Result<std::vector<bool>> Write(const std::vector<LeaseUpdate>& updates, const char* what);
  LeaseUpdate UpdateOf(const Lease& current, int64_t now) const;
  // Drops held leases that `leases` (a fresh snapshot) shows changed by others.
  void DropChanged(const std::vector<Lease>& leases);
  void Lose(uint64_t shard, const std::string& why);
  void Log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  LeaseTable* table_;
  Env* env_;
  Options options_;
  std::map<uint64_t, Lease> held_;  // as last written by this worker
  int64_t last_renewal_ms_ = 0;
  std::vector<Lease> acquired_;
  std::vector<uint64_t> lost_;
};

}  // namespace kstream
