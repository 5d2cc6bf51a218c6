#include "consume/lease.h"

#include <simdjson.h>

#include <algorithm>

#include "core/text.h"

namespace kstream {

std::string Checkpoint::ToString() const {
  switch (kind) {
    case Kind::kAtTimestamp:
      return "AT_TIMESTAMP";
    case Kind::kTrimHorizon:
      return "TRIM_HORIZON";
    case Kind::kLatest:
      return "LATEST";
    case Kind::kSequence:
      return ToDecimal(sequence);
    case Kind::kShardEnd:
      return "SHARD_END";
  }
  return "?";
}

StartPosition Checkpoint::ResumePosition() const {
  StartPosition p;
  switch (kind) {
    case Kind::kAtTimestamp:
      p.type = IteratorType::kAtTimestamp;
      p.timestamp_ms = timestamp_ms;
      break;
    case Kind::kLatest:
      p.type = IteratorType::kLatest;
      break;
    case Kind::kSequence:
      p.type = sub_sequence ? IteratorType::kAtSequenceNumber : IteratorType::kAfterSequenceNumber;
      p.sequence = sequence;
      p.after_sub_sequence = sub_sequence;
      break;
    case Kind::kTrimHorizon:
    case Kind::kShardEnd:
      break;
  }
  return p;
}

Result<Checkpoint> ParseCheckpoint(std::string_view text, int64_t timestamp_ms) {
  if (text == "AT_TIMESTAMP") return Checkpoint{Checkpoint::Kind::kAtTimestamp, 0, timestamp_ms};
  if (text == "TRIM_HORIZON") return Checkpoint{};
  if (text == "LATEST") return Checkpoint{Checkpoint::Kind::kLatest, 0, 0};
  if (text == "SHARD_END") return Checkpoint::ShardEnd();
  KS_ASSIGN_OR_RETURN(SequenceNumber seq, SequenceNumber::Parse(text, "checkpoint"));
  return Checkpoint::Sequence(seq);
}

Result<Checkpoint> InitialCheckpoint(const StartPosition& start) {
  switch (start.type) {
    case IteratorType::kTrimHorizon:
      return Checkpoint{};
    case IteratorType::kLatest:
      return Checkpoint{Checkpoint::Kind::kLatest, 0, 0};
    case IteratorType::kAtTimestamp:
      return Checkpoint{Checkpoint::Kind::kAtTimestamp, 0, start.timestamp_ms};
    default:
      break;
  }
  return Status::InvalidArgument(
      "a consumer group starts at TRIM_HORIZON, LATEST or AT_TIMESTAMP, not " +
      std::string(IteratorTypeName(start.type)));
}

Status ValidateGroupName(std::string_view name) {
  if (ValidateStreamName(name).ok()) return Status::Ok();
  return Status::InvalidArgument("invalid group name '" + std::string(name) +
                                 "': must be 1-128 characters of [A-Za-z0-9_.-], not '.' or '..'");
}

namespace {

void EncodeLease(std::string& o, const Lease& l) {
  o += "{\"leaseKey\": \"" + ShardIdFor(l.shard) + "\"";
  if (!l.owner.empty()) {
    o += ", \"leaseOwner\": ";
    AppendJsonString(o, l.owner);
  }
  o += ", \"leaseCounter\": " + std::to_string(l.counter);
  o += ", \"leaseRenewedMs\": " + std::to_string(l.renewed_ms);
  o += ", \"leaseTimeoutMs\": " + std::to_string(l.timeout_ms);
  o += ", \"checkpoint\": \"" + l.checkpoint.ToString() + "\"";
  if (l.checkpoint.kind == Checkpoint::Kind::kAtTimestamp)
    o += ", \"checkpointTimestampMs\": " + std::to_string(l.checkpoint.timestamp_ms);
  // Only inside an aggregate, so files stay as they were for plain records.
  if (l.checkpoint.sub_sequence)
    o += ", \"checkpointSubSequenceNumber\": " + std::to_string(*l.checkpoint.sub_sequence);
  o += ", \"ownerSwitchesSinceCheckpoint\": " + std::to_string(l.owner_switches);
  o += ", \"parentShardId\": [";
  for (size_t i = 0; i < l.parents.size(); ++i)
    o += (i ? ", \"" : "\"") + ShardIdFor(l.parents[i]) + "\"";
  o += "]}";
}

Result<uint64_t> DecodeShardId(simdjson::dom::element e) {
  std::string_view id;
  if (e.get(id)) return Status::InvalidArgument("shard id is not a string");
  return ParseShardId(id);
}

Status DecodeLease(simdjson::dom::element e, Lease& l) {
  auto bad = Status::InvalidArgument("bad lease entry");
  auto shard = DecodeShardId(e["leaseKey"]);
  if (!shard.ok()) return bad;
  l.shard = *shard;
  std::string_view owner, checkpoint;
  if (!e["leaseOwner"].get(owner)) l.owner = std::string(owner);
  int64_t timestamp_ms = 0;
  if (e["checkpointTimestampMs"].get(timestamp_ms)) timestamp_ms = 0;  // only with AT_TIMESTAMP
  simdjson::dom::array parents;
  if (e["leaseCounter"].get(l.counter) || e["leaseRenewedMs"].get(l.renewed_ms) ||
      e["leaseTimeoutMs"].get(l.timeout_ms) || e["checkpoint"].get(checkpoint) ||
      e["ownerSwitchesSinceCheckpoint"].get(l.owner_switches) || e["parentShardId"].get(parents))
    return bad;
  auto cp = ParseCheckpoint(checkpoint, timestamp_ms);
  if (!cp.ok()) return bad;
  l.checkpoint = *cp;
  uint64_t sub_sequence;
  if (!e["checkpointSubSequenceNumber"].get(sub_sequence)) {
    if (l.checkpoint.kind != Checkpoint::Kind::kSequence || sub_sequence > UINT32_MAX) return bad;
    l.checkpoint.sub_sequence = uint32_t(sub_sequence);
  }
  for (simdjson::dom::element p : parents) {
    auto parent = DecodeShardId(p);
    if (!parent.ok()) return bad;
    l.parents.push_back(*parent);
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeLeases(const std::string& stream, const std::string& group,
                         const std::vector<Lease>& leases) {
  std::string o = "{\n  \"format\": 1,\n  \"stream\": ";
  AppendJsonString(o, stream);
  o += ",\n  \"group\": ";
  AppendJsonString(o, group);
  o += ",\n  \"leases\": [";
  for (size_t i = 0; i < leases.size(); ++i) {
    o += i ? ",\n    " : "\n    ";
    EncodeLease(o, leases[i]);
  }
  o += "\n  ]\n}\n";
  return o;
}

Result<std::vector<Lease>> DecodeLeases(std::string_view json, const std::string& path) {
  using namespace simdjson;
  dom::parser parser;
  padded_string padded(json);
  dom::element root;
  dom::array entries;
  if (auto err = parser.parse(padded).get(root))
    return Status::Corruption(path + ": " + error_message(err));
  if (root["leases"].get(entries)) return Status::Corruption(path + ": no \"leases\" array");
  std::vector<Lease> leases;
  for (dom::element e : entries) {
    Lease l;
    if (Status s = DecodeLease(e, l); !s.ok()) return Status::Corruption(path + ": " + s.message());
    leases.push_back(std::move(l));
  }
  std::sort(leases.begin(), leases.end(),
            [](const Lease& a, const Lease& b) { return a.shard < b.shard; });
  return leases;
}

}  // namespace kstream
