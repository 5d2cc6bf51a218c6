#include "consume/group_leases.h"

#include <set>

namespace kstream {
namespace {

Lease FreeLease(const ShardMeta& shard, const Checkpoint& checkpoint) {
  Lease l;
  l.shard = shard.index;
  l.checkpoint = checkpoint;
  for (auto p : {shard.parent, shard.adjacent_parent})
    if (p) l.parents.push_back(*p);
  return l;
}

}  // namespace

Result<std::vector<Lease>> InitialLeases(Backend& backend, const std::string& stream,
                                         const StartPosition& start) {
  KS_ASSIGN_OR_RETURN(Checkpoint initial, InitialCheckpoint(start));
  std::vector<Lease> leases;
  if (initial.kind != Checkpoint::Kind::kLatest) {
    KS_ASSIGN_OR_RETURN(StreamMeta meta, backend.ListShards(stream));
    for (const ShardMeta& s : meta.shards) leases.push_back(FreeLease(s, initial));
    return leases;
  }
  KS_ASSIGN_OR_RETURN(StreamDescription d, backend.DescribeStream(stream));
  for (size_t i = 0; i < d.meta.shards.size(); ++i) {
    const ShardMeta& s = d.meta.shards[i];
    Checkpoint cp = Checkpoint::ShardEnd();
    if (s.is_open()) {
      const auto& last = i < d.stats.size() ? d.stats[i].last_sequence : std::nullopt;
      // Counter 0, before the first record, when the shard holds none.
      cp = Checkpoint::Sequence(last ? *last : s.starting_sequence());
    }
    leases.push_back(FreeLease(s, cp));
  }
  return leases;
}

Status SyncLeases(Backend& backend, const std::string& stream, LeaseTable& table,
                  const StartPosition& start, ShardMapSeen* seen) {
  KS_ASSIGN_OR_RETURN(StreamMeta meta, backend.ListShards(stream));
  const ShardMapSeen now{meta.next_shard_index, meta.shards.size()};
  if (now == *seen) return Status::Ok();
  auto current = table.List();
  if (!current.ok() && current.status().code() != StatusCode::kNotFound) return current.status();
  if (!current.ok()) {
    KS_ASSIGN_OR_RETURN(std::vector<Lease> leases, InitialLeases(backend, stream, start));
    KS_RETURN_IF_ERROR(table.Add(leases));
  } else {
    std::set<uint64_t> leased;
    std::vector<uint64_t> gone;
    for (const Lease& l : *current) {
      leased.insert(l.shard);
      if (l.checkpoint.at_shard_end() && !meta.FindShard(l.shard)) gone.push_back(l.shard);
    }
    std::vector<Lease> missing;
    for (const ShardMeta& s : meta.shards)
      if (!leased.count(s.index)) missing.push_back(FreeLease(s, Checkpoint{}));
    if (!missing.empty()) KS_RETURN_IF_ERROR(table.Add(missing));
    if (!gone.empty()) KS_RETURN_IF_ERROR(table.RemoveFinished(gone).status());
  }
  *seen = now;
  return Status::Ok();
}

}  // namespace kstream
