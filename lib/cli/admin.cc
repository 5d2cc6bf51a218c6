#include "cli/admin.h"

#include <cstdio>
#include <iostream>

#include "cli/get.h"
#include "core/text.h"

namespace kstream::cli {

Status CreateStream(Backend& b, const AdminOptions& o, bool quiet) {
  KS_RETURN_IF_ERROR(b.CreateStream(o.name, o.shards, o.retention_hours));
  if (!quiet)
    std::cerr << "kstream: created stream '" << o.name << "' with " << o.shards << " shard"
              << (o.shards == 1 ? "" : "s") << ", retention " << o.retention_hours << " h\n";
  return Status::Ok();
}

Status ListStreams(Backend& b, const AdminOptions& o) {
  KS_ASSIGN_OR_RETURN(auto names, b.ListStreams());
  std::string out;
  if (o.json) {
    out = "{\"StreamNames\":[";
    for (size_t i = 0; i < names.size(); ++i) {
      if (i) out += ',';
      AppendJsonString(out, names[i]);
    }
    out += "],\"HasMoreStreams\":false}\n";
  } else {
    for (const auto& n : names) out += n + "\n";
  }
  std::cout << out << std::flush;
  return Status::Ok();
}

Status DescribeStream(Backend& b, const AdminOptions& o) {
  KS_ASSIGN_OR_RETURN(StreamDescription d, b.DescribeStream(o.name));
  std::cout << (o.json ? DescribeStreamJson(d) : DescribeStreamText(d)) << std::flush;
  return Status::Ok();
}

Status DeleteStream(Backend& b, const AdminOptions& o, bool quiet) {
  KS_RETURN_IF_ERROR(b.DeleteStream(o.name));
  if (!quiet) std::cerr << "kstream: deleted stream '" << o.name << "'\n";
  return Status::Ok();
}

Status SetRetention(Backend& b, const AdminOptions& o, bool quiet) {
  KS_RETURN_IF_ERROR(b.SetRetention(o.name, o.retention_hours));
  if (!quiet)
    std::cerr << "kstream: retention of '" << o.name << "' is now " << o.retention_hours << " h\n";
  return Status::Ok();
}

void AppendShardJson(std::string& j, const ShardMeta& s, bool close) {
  j += "{\"ShardId\":\"" + s.id() + "\"";
  if (s.parent) j += ",\"ParentShardId\":\"" + ShardIdFor(*s.parent) + "\"";
  if (s.adjacent_parent)
    j += ",\"AdjacentParentShardId\":\"" + ShardIdFor(*s.adjacent_parent) + "\"";
  j += ",\"HashKeyRange\":{\"StartingHashKey\":\"" + ToDecimal(s.start_hash) +
       "\",\"EndingHashKey\":\"" + ToDecimal(s.end_hash) + "\"}";
  j += ",\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"" +
       ToDecimal(s.starting_sequence()) + "\"";
  if (const auto end = s.ending_sequence())
    j += ",\"EndingSequenceNumber\":\"" + ToDecimal(*end) + "\"";
  j += "}";
  if (close) j += "}";
}

std::string DescribeStreamJson(const StreamDescription& d) {
  const StreamMeta& m = d.meta;
  std::string j = "{\"StreamDescription\":{\"StreamName\":";
  AppendJsonString(j, m.name);
  j += ",\"StreamARN\":";
  AppendJsonString(j, "arn:aws:kinesis:local:000000000000:stream/" + m.name);
  j += ",\"StreamStatus\":\"ACTIVE\",\"StreamModeDetails\":{\"StreamMode\":\"PROVISIONED\"}";
  j += ",\"Shards\":[";
  for (size_t i = 0; i < m.shards.size(); ++i) {
    if (i) j += ',';
    AppendShardJson(j, m.shards[i], /*close=*/false);
    if (i < d.stats.size()) {
      const ShardStats& st = d.stats[i];
      j += ",\"Records\":" + std::to_string(st.records) + ",\"Bytes\":" + std::to_string(st.bytes) +
           ",\"Segments\":" + std::to_string(st.segments);
      if (st.last_sequence) j += ",\"LastSequenceNumber\":\"" + ToDecimal(*st.last_sequence) + "\"";
    }
    j += "}";
  }
  j += "],\"HasMoreShards\":false,\"RetentionPeriodHours\":" + std::to_string(m.retention_hours);
  j += ",\"StreamCreationTimestamp\":";
  AppendEpochSeconds(j, m.created_ms);
  j += ",\"EnhancedMonitoring\":[{\"ShardLevelMetrics\":[]}],\"EncryptionType\":\"NONE\"}}\n";
  return j;
}

std::string DescribeStreamText(const StreamDescription& d) {
  const StreamMeta& m = d.meta;
  uint64_t records = 0, bytes = 0;
  size_t open = 0;
  for (const auto& st : d.stats) records += st.records, bytes += st.bytes;
  for (const auto& s : m.shards) open += s.is_open();
  std::string t = "Stream:     " + m.name + "\n";
  t += "Created:    " + FormatTimestamp(m.created_ms) + "\n";
  t += "Retention:  " + std::to_string(m.retention_hours) + " h\n";
  t += "Shards:     " + std::to_string(open) + " open, " + std::to_string(m.shards.size() - open) +
       " closed\n";
  if (d.stats.empty() && !m.shards.empty())
    t += "Records:    (the endpoint does not report record counts)\n\n";
  else
    t += "Records:    " + std::to_string(records) + " (" + std::to_string(bytes) +
         " bytes on disk)\n\n";
  // One row of figures per shard, its two long ranges indented below it.
  char line[512];
  snprintf(line, sizeof(line), "%-22s %-7s %-18s %12s %14s\n", "SHARD", "STATE", "PARENTS",
           "RECORDS", "BYTES");
  t += line;
  for (size_t i = 0; i < m.shards.size(); ++i) {
    const ShardMeta& s = m.shards[i];
    std::string parents = "-";
    if (s.parent) parents = std::to_string(*s.parent);
    if (s.adjacent_parent) parents += "," + std::to_string(*s.adjacent_parent);
    const ShardStats st = i < d.stats.size() ? d.stats[i] : ShardStats{};
    // An endpoint reports no figures: "-", not a misleading 0.
    const bool figures = i < d.stats.size();
    snprintf(line, sizeof(line), "%-22s %-7s %-18s %12s %14s\n", s.id().c_str(),
             s.is_open() ? "open" : "closed", parents.c_str(),
             figures ? std::to_string(st.records).c_str() : "-",
             figures ? std::to_string(st.bytes).c_str() : "-");
    t += line;
    t += "    hash keys  " + ToDecimal(s.start_hash) + " .. " + ToDecimal(s.end_hash) + "\n";
    t += "    sequence   " + ToDecimal(s.starting_sequence()) + " .. ";
    if (const auto end = s.ending_sequence())
      t += ToDecimal(*end);
    else if (st.last_sequence)
      t += ToDecimal(*st.last_sequence) + " (open)";
    else
      t += "(open)";
    t += "\n";
  }
  return t;
}

Status CheckGroupAdmin(GroupAdminOptions& o) {
  KS_RETURN_IF_ERROR(ValidateStreamName(o.stream));
  if (!o.group.empty()) KS_RETURN_IF_ERROR(ValidateGroupName(o.group));
  if (o.reset && o.del) return Status::InvalidArgument("--reset and --delete exclude each other");
  if (!o.reset && (o.iterator != "TRIM_HORIZON" || !o.timestamp.empty()))
    return Status::InvalidArgument("--iterator and --timestamp go with --reset");
  KS_ASSIGN_OR_RETURN(o.start.type, ParseIteratorType(o.iterator));
  KS_RETURN_IF_ERROR(InitialCheckpoint(o.start).status());
  return ParseStart(o.iterator, "", o.timestamp, o.start);
}

Status ListGroups(GroupStore& groups, const GroupAdminOptions& o) {
  KS_ASSIGN_OR_RETURN(auto names, groups.ListGroups(o.stream));
  std::string out;
  if (o.json) {
    out = "{\"Groups\":[";
    for (size_t i = 0; i < names.size(); ++i) {
      if (i) out += ',';
      AppendJsonString(out, names[i]);
    }
    out += "]}\n";
  } else {
    for (const auto& n : names) out += n + "\n";
  }
  std::cout << out << std::flush;
  return Status::Ok();
}

Status GroupCommand(Backend& b, GroupStore& groups, const GroupAdminOptions& o, int64_t now,
                    bool quiet) {
  KS_ASSIGN_OR_RETURN(auto table, groups.OpenLeaseTable(o.stream, o.group));
  const std::string what = "group '" + o.group + "' of stream '" + o.stream + "'";
  if (o.del) {
    KS_RETURN_IF_ERROR(table->List().status());  // a clear error for a missing group
    KS_RETURN_IF_ERROR(table->Delete(now));
    if (!quiet) std::cerr << "kstream: deleted " << what << "\n";
    return Status::Ok();
  }
  if (o.reset) {
    KS_RETURN_IF_ERROR(ResetGroup(b, *table, o.stream, o.start, now));
    if (!quiet) std::cerr << "kstream: reset " << what << " to " << o.iterator << "\n";
    return Status::Ok();
  }
  KS_ASSIGN_OR_RETURN(GroupStatus g, GetGroupStatus(b, *table, o.stream, o.group, now));
  std::cout << (o.json ? GroupStatusJson(g) : GroupStatusText(g)) << std::flush;
  return Status::Ok();
}

namespace {
std::string OwnerText(const ShardProgress& p) {
  if (p.lease.owner.empty()) return "-";
  return p.live ? p.lease.owner : p.lease.owner + " (expired)";
}
}  // namespace

std::string GroupStatusText(const GroupStatus& g) {
  std::string t = "Stream:     " + g.stream + "\nGroup:      " + g.group +
                  "\nWorkers:    " + std::to_string(g.workers.size()) + " live";
  for (size_t i = 0; i < g.workers.size(); ++i) t += (i ? ", " : ": ") + g.workers[i];
  t += "\nLag:        " + std::to_string(g.lag_records) + " records, " + std::to_string(g.lag_ms) +
       " ms behind the newest record\n\n";
  char line[512];
  snprintf(line, sizeof(line), "%-22s %-7s %-24s %-40s %12s %10s\n", "SHARD", "STATE", "OWNER",
           "CHECKPOINT", "LAG RECORDS", "LAG MS");
  t += line;
  for (const ShardProgress& p : g.shards) {
    snprintf(line, sizeof(line), "%-22s %-7s %-24s %-40s %12llu %10lld\n",
             ShardIdFor(p.lease.shard).c_str(), p.open ? "open" : "closed", OwnerText(p).c_str(),
             p.lease.checkpoint.ToString().c_str(), static_cast<unsigned long long>(p.lag_records),
             static_cast<long long>(p.lag_ms));
    t += line;
  }
  return t;
}

std::string GroupStatusJson(const GroupStatus& g) {
  std::string j = "{\"StreamName\":";
  AppendJsonString(j, g.stream);
  j += ",\"GroupName\":";
  AppendJsonString(j, g.group);
  j += ",\"Workers\":[";
  for (size_t i = 0; i < g.workers.size(); ++i) {
    if (i) j += ',';
    AppendJsonString(j, g.workers[i]);
  }
  j += "],\"LagRecords\":" + std::to_string(g.lag_records) +
       ",\"MillisBehindLatest\":" + std::to_string(g.lag_ms) + ",\"Shards\":[";
  for (size_t i = 0; i < g.shards.size(); ++i) {
    const ShardProgress& p = g.shards[i];
    const Lease& l = p.lease;
    j += i ? "," : "";
    j += "{\"ShardId\":\"" + ShardIdFor(l.shard) + "\",\"State\":\"" +
         (p.open ? "open" : "closed") + "\",\"LeaseOwner\":";
    if (l.owner.empty())
      j += "null";
    else
      AppendJsonString(j, l.owner);
    j += ",\"LeaseLive\":" + std::string(p.live ? "true" : "false") +
         ",\"LeaseCounter\":" + std::to_string(l.counter) + ",\"Checkpoint\":\"" +
         l.checkpoint.ToString() +
         "\",\"OwnerSwitchesSinceCheckpoint\":" + std::to_string(l.owner_switches) +
         ",\"ParentShardIds\":[";
    for (size_t k = 0; k < l.parents.size(); ++k)
      j += (k ? ",\"" : "\"") + ShardIdFor(l.parents[k]) + "\"";
    j += "],\"LagRecords\":" + std::to_string(p.lag_records) +
         ",\"MillisBehindLatest\":" + std::to_string(p.lag_ms) + "}";
  }
  return j + "]}\n";
}

}  // namespace kstream::cli
