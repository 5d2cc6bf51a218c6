#include "consume/group_status.h"

#include <algorithm>
#include <map>

#include "consume/group_leases.h"

namespace kstream {
namespace {

// Lag of one shard: from the first record after the checkpoint to the newest.
Status MeasureLag(Backend& backend, const std::string& stream, const ShardStats& st,
                  ShardProgress& p) {
  if (p.lease.checkpoint.at_shard_end() || st.records == 0 || !st.last_sequence)
    return Status::Ok();
  KS_ASSIGN_OR_RETURN(
      auto cursor, backend.OpenCursor(stream, p.lease.shard, p.lease.checkpoint.ResumePosition()));
  RecordBatch next;
  KS_RETURN_IF_ERROR(cursor->Read(next, 1, 1).status());
  if (next.empty()) return Status::Ok();
  p.lag_records = SequenceCounter(*st.last_sequence).value_or(0) -
                  SequenceCounter(next[0].sequence).value_or(0) + 1;
  p.lag_ms = std::max<int64_t>(0, st.last_arrival_ms.value_or(0) - next[0].arrival_ms);
  return Status::Ok();
}

}  // namespace

Result<GroupStatus> GetGroupStatus(Backend& backend, LeaseTable& table, const std::string& stream,
                                   const std::string& group, int64_t now) {
  KS_ASSIGN_OR_RETURN(std::vector<Lease> leases, table.List());
  KS_ASSIGN_OR_RETURN(StreamDescription d, backend.DescribeStream(stream));
  std::map<uint64_t, size_t> position;  // shard index -> entry in d
  for (size_t i = 0; i < d.meta.shards.size(); ++i) position[d.meta.shards[i].index] = i;
  GroupStatus g{stream, group, {}, {}, 0, 0};
  for (Lease& l : leases) {
    auto it = position.find(l.shard);
    // A finished shard that expired since: its lease is about to be cleaned
    // up (SyncLeases) and is no part of the group's work any more.
    if (it == position.end() && l.checkpoint.at_shard_end()) continue;
    ShardProgress p;
    p.live = l.live(now);
    if (p.live && std::find(g.workers.begin(), g.workers.end(), l.owner) == g.workers.end())
      g.workers.push_back(l.owner);
    p.lease = std::move(l);
    if (it == position.end()) p.open = false;  // expired before the group finished it
    if (it != position.end()) {
      p.open = d.meta.shards[it->second].is_open();
      if (it->second < d.stats.size())
        KS_RETURN_IF_ERROR(MeasureLag(backend, stream, d.stats[it->second], p));
    }
    g.lag_records += p.lag_records;
    g.lag_ms = std::max(g.lag_ms, p.lag_ms);
    g.shards.push_back(std::move(p));
  }
  std::sort(g.workers.begin(), g.workers.end());
  return g;
}

Status ResetGroup(Backend& backend, LeaseTable& table, const std::string& stream,
                  const StartPosition& start, int64_t now) {
  KS_RETURN_IF_ERROR(table.List().status());  // a clear error for a missing group
  KS_ASSIGN_OR_RETURN(std::vector<Lease> leases, InitialLeases(backend, stream, start));
  return table.Replace(leases, now);
}

}  // namespace kstream
