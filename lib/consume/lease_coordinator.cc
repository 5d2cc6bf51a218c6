#include "consume/lease_coordinator.h"

#include <unordered_map>
#include <utility>

#include "core/text.h"

namespace kstream {

namespace {

using LeaseIndex = std::unordered_map<uint64_t, const Lease*>;

LeaseIndex IndexLeases(const std::vector<Lease>& all) {
  LeaseIndex index;
  for (const Lease& l : all) index[l.shard] = &l;
  return index;
}

bool Ready(const Lease& lease, const LeaseIndex& index) {
  if (lease.checkpoint.at_shard_end()) return false;
  for (uint64_t p : lease.parents) {
    auto it = index.find(p);
    if (it != index.end() && !it->second->checkpoint.at_shard_end()) return false;
  }
  return true;
}

}  // namespace

bool LeaseReady(const Lease& lease, const std::vector<Lease>& all) {
  return Ready(lease, IndexLeases(all));
}

AcquirePlan PlanAcquire(const std::vector<Lease>& leases, const std::string& me, int64_t now) {
  std::map<std::string, std::vector<uint64_t>> by_owner;  // live ready leases per worker
  std::vector<uint64_t> available;                        // free or expired ready leases
  size_t total = 0;
  const LeaseIndex index = IndexLeases(leases);
  for (const Lease& l : leases) {
    if (!Ready(l, index)) continue;
    ++total;
    if (l.live(now))
      by_owner[l.owner].push_back(l.shard);
    else
      available.push_back(l.shard);
  }
  by_owner[me];  // this worker counts even while it holds nothing
  const size_t workers = by_owner.size();
  const size_t target = workers >= total ? 1 : (total + workers - 1) / workers;
  const size_t mine = by_owner[me].size();
  AcquirePlan plan;
  if (mine >= target || total == 0) return plan;
  const size_t needed = target - mine;
  if (!available.empty()) {
    for (size_t i = 0; i < available.size() && i < needed; ++i) plan.take.push_back(available[i]);
    return plan;
  }
  // Nothing free: steal one lease from the most loaded worker, if it holds
  // more than the share, or the share while this worker needs two or more.
  const std::vector<uint64_t>* most = nullptr;
  for (const auto& [owner, shards] : by_owner)
    if (owner != me && (!most || shards.size() > most->size())) most = &shards;
  if (!most || most->size() < target) return plan;
  if (most->size() > target || needed > 1) plan.steal = most->back();
  return plan;
}

LeaseCoordinator::LeaseCoordinator(LeaseTable* table, Env* env, Options options)
    : table_(table), env_(env), options_(std::move(options)) {}

LeaseUpdate LeaseCoordinator::UpdateOf(const Lease& current, int64_t now) const {
  LeaseUpdate u{current.counter, current.owner, current};
  u.lease.counter = current.counter + 1;
  u.lease.renewed_ms = now;
  u.lease.timeout_ms = options_.timeout_ms;
  return u;
}

void LeaseCoordinator::Lose(uint64_t shard, const std::string& why) {
  if (!held_.erase(shard)) return;
  lost_.push_back(shard);
  Log("lost " + ShardIdFor(shard) + " (" + why + ")");
}

Result<std::vector<bool>> LeaseCoordinator::Write(const std::vector<LeaseUpdate>& updates,
                                                  const char* what) {
  if (updates.empty()) return std::vector<bool>{};
  KS_ASSIGN_OR_RETURN(std::vector<bool> applied, table_->Apply(updates));
  for (size_t i = 0; i < updates.size(); ++i) {
    const Lease& l = updates[i].lease;
    if (!applied[i]) {
      Lose(l.shard, std::string(what) + " refused: another worker has it");
    } else if (l.owner == options_.worker) {
      held_[l.shard] = l;
    } else {
      held_.erase(l.shard);
    }
  }
  return applied;
}

Status LeaseCoordinator::RenewIfDue() {
  const int64_t now = env_->NowMillis();
  if (now < next_renewal_ms()) return Status::Ok();
  std::vector<LeaseUpdate> updates;
  for (const auto& [shard, l] : held_) updates.push_back(UpdateOf(l, now));
  KS_RETURN_IF_ERROR(Write(updates, "renewal").status());
  last_renewal_ms_ = now;
  return Status::Ok();
}

void LeaseCoordinator::DropChanged(const std::vector<Lease>& leases) {
  const LeaseIndex by_shard = IndexLeases(leases);
  for (auto it = held_.begin(); it != held_.end();) {
    const uint64_t shard = it->first;
    auto found = by_shard.find(shard);
    const bool same = found != by_shard.end() && found->second->counter == it->second.counter &&
                      found->second->owner == options_.worker;
    ++it;
    if (!same)
      Lose(shard, found == by_shard.end() ? "lease removed" : "taken by " + found->second->owner);
  }
}

Status LeaseCoordinator::Verify() {
  if (held_.empty()) return Status::Ok();
  KS_ASSIGN_OR_RETURN(std::vector<Lease> leases, table_->List());
  DropChanged(leases);
  return Status::Ok();
}

Status LeaseCoordinator::Balance() {
  KS_RETURN_IF_ERROR(RenewIfDue());
  KS_ASSIGN_OR_RETURN(std::vector<Lease> leases, table_->List());
  DropChanged(leases);
  const LeaseIndex by_shard = IndexLeases(leases);
  const int64_t now = env_->NowMillis();
  std::vector<LeaseUpdate> updates;
  std::vector<std::pair<std::string, std::string>> how;  // for the log: verb, detail
  auto take = [&](const Lease& current, const char* verb, std::string detail) {
    for (const LeaseUpdate& u : updates)
      if (u.lease.shard == current.shard) return;  // chosen already
    LeaseUpdate u = UpdateOf(current, now);
    u.lease.owner = options_.worker;
    if (!current.owner.empty() && current.owner != options_.worker) u.lease.owner_switches++;
    updates.push_back(std::move(u));
    how.emplace_back(verb, std::move(detail));
  };
  // Leases this id owns but this process does not hold were left by an
  // earlier run with the same --worker id (ids are unique among live
  // workers): take them back without waiting for them to expire.
  for (const Lease& l : leases)
    if (l.owner == options_.worker && !holds(l.shard) && Ready(l, by_shard))
      take(l, "took", " back");
  const AcquirePlan plan = PlanAcquire(leases, options_.worker, now);
  for (uint64_t shard : plan.take) {
    const Lease& l = *by_shard.at(shard);
    take(l, "took", l.owner.empty() ? "" : " (expired) from " + l.owner);
  }
  if (plan.steal) {
    const Lease& l = *by_shard.at(*plan.steal);
    take(l, "stole", " from " + l.owner);
  }
  if (updates.empty()) return Status::Ok();
  if (held_.empty()) last_renewal_ms_ = now;  // whatever is taken now is fresh
  KS_ASSIGN_OR_RETURN(std::vector<bool> applied, table_->Apply(updates));
  for (size_t i = 0; i < updates.size(); ++i) {
    if (!applied[i]) continue;  // another worker was faster
    const Lease& l = updates[i].lease;
    held_[l.shard] = l;
    acquired_.push_back(l);
    Log(how[i].first + " " + ShardIdFor(l.shard) + how[i].second + " at " +
        l.checkpoint.ToString());
  }
  return Status::Ok();
}

std::vector<Lease> LeaseCoordinator::TakeAcquired() {
  return std::exchange(acquired_, {});
}

std::vector<uint64_t> LeaseCoordinator::TakeLost() {
  return std::exchange(lost_, {});
}

Status LeaseCoordinator::Checkpoint(std::span<const CheckpointWrite> writes) {
  const int64_t now = env_->NowMillis();
  std::vector<LeaseUpdate> updates;
  for (const CheckpointWrite& w : writes) {
    auto it = held_.find(w.shard);
    if (it == held_.end()) continue;
    LeaseUpdate u = UpdateOf(it->second, now);
    u.lease.checkpoint = w.checkpoint;
    u.lease.owner_switches = 0;
    if (w.release) u.lease.owner.clear();
    updates.push_back(std::move(u));
  }
  KS_ASSIGN_OR_RETURN(std::vector<bool> applied, Write(updates, "checkpoint"));
  for (size_t i = 0; i < updates.size(); ++i) {
    if (!applied[i]) continue;
    const Lease& l = updates[i].lease;
    Log((l.owner.empty() ? "released " : "checkpoint ") + ShardIdFor(l.shard) + " at " +
        l.checkpoint.ToString());
  }
  return Status::Ok();
}

Status LeaseCoordinator::ReleaseAll() {
  std::vector<CheckpointWrite> writes;
  for (const auto& [shard, l] : held_) writes.push_back({shard, l.checkpoint, true});
  return Checkpoint(writes);
}

}  // namespace kstream
