#include "cli/admin.h"

#include <cstdio>
#include <iostream>

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
  if (s.adjacent_parent) j += ",\"AdjacentParentShardId\":\"" + ShardIdFor(*s.adjacent_parent) + "\"";
  j += ",\"HashKeyRange\":{\"StartingHashKey\":\"" + ToDecimal(s.start_hash) +
       "\",\"EndingHashKey\":\"" + ToDecimal(s.end_hash) + "\"}";
  j += ",\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"" +
       ToDecimal(s.starting_sequence()) + "\"";
  if (s.ending_counter)
    j += ",\"EndingSequenceNumber\":\"" + ToDecimal(MakeSequenceNumber(s.index, *s.ending_counter)) +
         "\"";
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
  t += "Records:    " + std::to_string(records) + " (" + std::to_string(bytes) + " bytes on disk)\n\n";
  char line[512];
  snprintf(line, sizeof(line), "%-22s %-7s %-10s %12s %14s  %s\n", "SHARD", "STATE", "PARENTS",
           "RECORDS", "BYTES", "HASH RANGE / SEQUENCE RANGE");
  t += line;
  for (size_t i = 0; i < m.shards.size(); ++i) {
    const ShardMeta& s = m.shards[i];
    std::string parents = "-";
    if (s.parent) parents = std::to_string(*s.parent);
    if (s.adjacent_parent) parents += "," + std::to_string(*s.adjacent_parent);
    const ShardStats st = i < d.stats.size() ? d.stats[i] : ShardStats{};
    snprintf(line, sizeof(line), "%-22s %-7s %-10s %12llu %14llu  ", s.id().c_str(),
             s.is_open() ? "open" : "closed", parents.c_str(),
             static_cast<unsigned long long>(st.records), static_cast<unsigned long long>(st.bytes));
    t += line;
    t += ToDecimal(s.start_hash) + " .. " + ToDecimal(s.end_hash) + "\n";
    t += std::string(80, ' ') + ToDecimal(s.starting_sequence()) + " .. ";
    if (s.ending_counter) t += ToDecimal(MakeSequenceNumber(s.index, *s.ending_counter));
    else if (st.last_sequence) t += ToDecimal(*st.last_sequence) + " (open)";
    else t += "(open)";
    t += "\n";
  }
  return t;
}

}  // namespace kstream::cli
