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
                  const StartPosition& start, size_t* known_shards) {
  KS_ASSIGN_OR_RETURN(StreamMeta meta, backend.ListShards(stream));
  if (meta.shards.size() == *known_shards) return Status::Ok();
  auto current = table.List();
  if (!current.ok() && current.status().code() != StatusCode::kNotFound) return current.status();
  if (!current.ok()) {
    KS_ASSIGN_OR_RETURN(std::vector<Lease> leases, InitialLeases(backend, stream, start));
    KS_RETURN_IF_ERROR(table.Add(leases));
  } else {
    std::set<uint64_t> leased;
    for (const Lease& l : *current) leased.insert(l.shard);
    std::vector<Lease> missing;
    for (const ShardMeta& s : meta.shards)
      if (!leased.count(s.index)) missing.push_back(FreeLease(s, Checkpoint{}));
    if (!missing.empty()) KS_RETURN_IF_ERROR(table.Add(missing));
  }
  *known_shards = meta.shards.size();
  return Status::Ok();
}

}  // namespace kstream
