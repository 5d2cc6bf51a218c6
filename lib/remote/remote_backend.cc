#include "remote/remote_backend.h"

#include <algorithm>

#include "core/clock.h"
#include "core/text.h"
#include "remote/remote_internal.h"

namespace kstream::remote {

namespace {

Result<simdjson::dom::element> ParseAnswer(simdjson::dom::parser& parser, const std::string& json,
                                           std::string_view operation) {
  simdjson::dom::element root;
  if (parser.parse(json).get(root) || !root.is_object())
    return Status::IOError(std::string(operation) + ": the answer is not a JSON object");
  return root;
}

Result<std::optional<SequenceNumber>> OptionalSequence(simdjson::dom::object o, const char* key) {
  std::string_view text;
  if (o[key].get(text)) return std::optional<SequenceNumber>();  // absent or null
  KS_ASSIGN_OR_RETURN(SequenceNumber s, SequenceNumber::Parse(text, key));
  return std::optional<SequenceNumber>(s);
}

}  // namespace

Status StreamNotFound(const Endpoint& endpoint, const std::string& name) {
  return Status::NotFound("stream '" + name + "' does not exist at " + endpoint.Url() +
                          " (create it with: kstream --endpoint " + endpoint.Url() + " create " +
                          name + ")");
}

std::string BodyForStream(const std::string& name) {
  std::string b = "{\"StreamName\":";
  AppendJsonString(b, name);
  return b;
}

Result<ShardMeta> DecodeShard(simdjson::dom::element e) {
  auto bad = [](const std::string& why) {
    return Status::IOError("the endpoint described a shard badly: " + why);
  };
  simdjson::dom::object o;
  std::string_view id, start_hash, end_hash, parent, adjacent;
  simdjson::dom::object hash_range, seq_range;
  if (e.get(o) || o["ShardId"].get(id) || o["HashKeyRange"].get(hash_range) ||
      hash_range["StartingHashKey"].get(start_hash) || hash_range["EndingHashKey"].get(end_hash) ||
      o["SequenceNumberRange"].get(seq_range))
    return bad("ShardId, HashKeyRange and SequenceNumberRange are required");
  ShardMeta s;
  KS_ASSIGN_OR_RETURN(s.index, ParseShardId(id));
  KS_ASSIGN_OR_RETURN(s.start_hash, ParseDecimal128(start_hash, "StartingHashKey"));
  KS_ASSIGN_OR_RETURN(s.end_hash, ParseDecimal128(end_hash, "EndingHashKey"));
  if (!o["ParentShardId"].get(parent)) {
    KS_ASSIGN_OR_RETURN(s.parent, ParseShardId(parent));
  }
  if (!o["AdjacentParentShardId"].get(adjacent)) {
    KS_ASSIGN_OR_RETURN(s.adjacent_parent, ParseShardId(adjacent));
  }
  KS_ASSIGN_OR_RETURN(s.reported_start, OptionalSequence(seq_range, "StartingSequenceNumber"));
  if (!s.reported_start) return bad(std::string(id) + " has no StartingSequenceNumber");
  KS_ASSIGN_OR_RETURN(s.reported_end, OptionalSequence(seq_range, "EndingSequenceNumber"));
  if (s.reported_end) s.closed_ms = 0;  // closed; the service does not say when
  return s;
}

Status AddShards(simdjson::dom::array shards, StreamMeta& meta) {
  for (simdjson::dom::element e : shards) {
    KS_ASSIGN_OR_RETURN(ShardMeta s, DecodeShard(e));
    if (meta.FindShard(s.index)) continue;  // pages may overlap
    meta.next_shard_index = std::max(meta.next_shard_index, s.index + 1);
    meta.shards.push_back(std::move(s));
  }
  std::sort(meta.shards.begin(), meta.shards.end(),
            [](const ShardMeta& a, const ShardMeta& b) { return a.index < b.index; });
  return Status::Ok();
}

RemoteBackend::RemoteBackend(ClientConfig config, RemoteOptions options)
    : config_(std::move(config)), options_(options), client_(config_) {}

RemoteBackend::~RemoteBackend() = default;

Result<std::string> RemoteBackend::StreamCall(std::string_view operation, const std::string& name,
                                              const std::string& body) {
  ApiError error;
  Result<std::string> r = client_.Call(operation, body, &error);
  // The same type also answers for a missing shard: keep the service's words there.
  if (!r.ok() && error.type == "ResourceNotFoundException" &&
      error.message.find("hard") == std::string::npos)
    return StreamNotFound(config_.endpoint, name);
  return r;
}

Status RemoteBackend::WaitForStream(const std::string& name, bool gone) {
  const int64_t deadline = SteadyMillis() + options_.wait_active_ms;
  simdjson::dom::parser parser;
  for (int round = 0;; ++round) {
    ApiError error;
    Result<std::string> r =
        client_.Call("DescribeStream", BodyForStream(name) + ",\"Limit\":1}", &error);
    if (!r.ok() && error.type == "ResourceNotFoundException") {
      if (gone) return Status::Ok();
      return StreamNotFound(config_.endpoint, name);
    }
    if (!r.ok()) return r.status();
    KS_ASSIGN_OR_RETURN(auto root, ParseAnswer(parser, *r, "DescribeStream"));
    std::string_view status;
    if (root["StreamDescription"]["StreamStatus"].get(status))
      return Status::IOError("DescribeStream: the answer has no StreamStatus");
    if (!gone && status == "ACTIVE") return Status::Ok();
    if (SteadyMillis() >= deadline)
      return Status::IOError("stream '" + name + "' is still " + std::string(status) + " after " +
                             std::to_string(options_.wait_active_ms / 1000) + " s");
    client_.sleep(std::min(1000, 50 << std::min(round, 5)));
  }
}

Status RemoteBackend::CreateStream(const std::string& name, int shard_count, int retention_hours) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  ApiError error;
  Result<std::string> r = client_.Call(
      "CreateStream", BodyForStream(name) + ",\"ShardCount\":" + std::to_string(shard_count) + "}",
      &error);
  if (!r.ok() && error.type == "ResourceInUseException")
    return Status::AlreadyExists("stream '" + name + "' already exists at " +
                                 config_.endpoint.Url());
  if (!r.ok()) return r.status();
  KS_RETURN_IF_ERROR(WaitForStream(name, false));
  if (retention_hours != kMinRetentionHours) return SetRetention(name, retention_hours);
  return Status::Ok();
}

Status RemoteBackend::DeleteStream(const std::string& name) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  KS_RETURN_IF_ERROR(StreamCall("DeleteStream", name, BodyForStream(name) + "}").status());
  return WaitForStream(name, true);
}

Result<std::vector<std::string>> RemoteBackend::ListStreams() {
  std::vector<std::string> names;
  simdjson::dom::parser parser;
  for (;;) {
    std::string body = "{\"Limit\":100";
    if (!names.empty()) {
      body += ",\"ExclusiveStartStreamName\":";
      AppendJsonString(body, names.back());
    }
    body += "}";
    KS_ASSIGN_OR_RETURN(std::string answer, client_.Call("ListStreams", body));
    KS_ASSIGN_OR_RETURN(auto root, ParseAnswer(parser, answer, "ListStreams"));
    simdjson::dom::array page;
    if (root["StreamNames"].get(page)) return Status::IOError("ListStreams: no StreamNames");
    size_t added = 0;
    for (simdjson::dom::element e : page) {
      std::string_view n;
      if (e.get(n)) return Status::IOError("ListStreams: a stream name is not a string");
      names.emplace_back(n);
      ++added;
    }
    bool more = false;
    if (root["HasMoreStreams"].get(more) || !more || added == 0) break;
  }
  std::sort(names.begin(), names.end());
  return names;
}

// DescribeStream, every page (ExclusiveStartShardId while HasMoreShards).
Result<StreamMeta> RemoteBackend::DescribeAll(const std::string& name) {
  StreamMeta meta;
  meta.name = name;
  simdjson::dom::parser parser;
  for (;;) {
    std::string body = BodyForStream(name);
    if (!meta.shards.empty())
      body += ",\"ExclusiveStartShardId\":\"" + meta.shards.back().id() + "\"";
    body += "}";
    KS_ASSIGN_OR_RETURN(std::string answer, StreamCall("DescribeStream", name, body));
    KS_ASSIGN_OR_RETURN(auto root, ParseAnswer(parser, answer, "DescribeStream"));
    simdjson::dom::object d;
    simdjson::dom::array shards;
    if (root["StreamDescription"].get(d) || d["Shards"].get(shards))
      return Status::IOError("DescribeStream: the answer has no StreamDescription.Shards");
    const size_t before = meta.shards.size();
    KS_RETURN_IF_ERROR(AddShards(shards, meta));
    int64_t hours = 0;
    if (!d["RetentionPeriodHours"].get(hours)) meta.retention_hours = int(hours);
    double created = 0;
    if (!d["StreamCreationTimestamp"].get(created)) meta.created_ms = int64_t(created * 1000);
    bool more = false;
    if (d["HasMoreShards"].get(more) || !more || meta.shards.size() == before) return meta;
  }
}

Result<StreamDescription> RemoteBackend::DescribeStream(const std::string& name) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  StreamDescription d;
  KS_ASSIGN_OR_RETURN(d.meta, DescribeAll(name));
  return d;  // no per-shard figures: the API has none
}

Result<StreamMeta> RemoteBackend::ListShards(const std::string& name) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  StreamMeta meta;
  meta.name = name;
  simdjson::dom::parser parser;
  std::string token;
  for (;;) {
    std::string body;
    if (token.empty()) {
      body = BodyForStream(name) + "}";
    } else {
      body = "{\"NextToken\":";
      AppendJsonString(body, token);
      body += "}";
    }
    ApiError error;
    Result<std::string> answer = client_.Call("ListShards", body, &error);
    if (!answer.ok() && error.type == "UnknownOperationException") return DescribeAll(name);
    if (!answer.ok() && error.type == "ResourceNotFoundException")
      return StreamNotFound(config_.endpoint, name);
    if (!answer.ok()) return answer.status();
    KS_ASSIGN_OR_RETURN(auto root, ParseAnswer(parser, *answer, "ListShards"));
    simdjson::dom::array shards;
    if (root["Shards"].get(shards)) return Status::IOError("ListShards: the answer has no Shards");
    KS_RETURN_IF_ERROR(AddShards(shards, meta));
    std::string_view next;
    if (root["NextToken"].get(next) || next.empty()) return meta;
    token = std::string(next);
  }
}

Status RemoteBackend::SetRetention(const std::string& name, int hours) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  if (hours < kMinRetentionHours || hours > kMaxRetentionHours)
    return Status::InvalidArgument("retention must be between 24 and 8760 hours");
  KS_ASSIGN_OR_RETURN(StreamMeta meta, DescribeAll(name));
  if (meta.retention_hours == hours) return Status::Ok();
  const char* op = hours > meta.retention_hours ? "IncreaseStreamRetentionPeriod"
                                                : "DecreaseStreamRetentionPeriod";
  KS_RETURN_IF_ERROR(
      StreamCall(op, name,
                 BodyForStream(name) + ",\"RetentionPeriodHours\":" + std::to_string(hours) + "}")
          .status());
  return WaitForStream(name, false);
}

Result<std::unique_ptr<StreamWriter>> RemoteBackend::OpenWriter(const std::string& name, SyncMode) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  // Fail early, as the local store does, rather than at the first record.
  KS_RETURN_IF_ERROR(WaitForStream(name, false));
  StreamMeta shards;
  if (config_.put.rate_limit_pct > 0) {
    KS_ASSIGN_OR_RETURN(shards, ListShards(name));
  }
  return MakeRemoteWriter(config_, name, std::move(shards));
}

Result<std::unique_ptr<ShardCursor>> RemoteBackend::OpenCursor(const std::string& name,
                                                               uint64_t shard_index,
                                                               const StartPosition& start) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  return OpenRemoteCursor(config_, options_, name, shard_index, start);
}

Result<std::unique_ptr<ChangeWatch>> RemoteBackend::Watch(const std::string& name) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  return MakePollingWatch(options_.follow_poll_ms);
}

Status RemoteBackend::SplitShard(const std::string& name, uint64_t shard_index,
                                 uint128 new_starting_hash_key) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  const std::string body = BodyForStream(name) + ",\"ShardToSplit\":\"" + ShardIdFor(shard_index) +
                           "\",\"NewStartingHashKey\":\"" + ToDecimal(new_starting_hash_key) +
                           "\"}";
  KS_RETURN_IF_ERROR(StreamCall("SplitShard", name, body).status());
  return WaitForStream(name, false);
}

Status RemoteBackend::MergeShards(const std::string& name, uint64_t shard_index,
                                  uint64_t adjacent_shard_index) {
  KS_RETURN_IF_ERROR(ValidateStreamName(name));
  const std::string body = BodyForStream(name) + ",\"ShardToMerge\":\"" + ShardIdFor(shard_index) +
                           "\",\"AdjacentShardToMerge\":\"" + ShardIdFor(adjacent_shard_index) +
                           "\"}";
  KS_RETURN_IF_ERROR(StreamCall("MergeShards", name, body).status());
  return WaitForStream(name, false);
}

}  // namespace kstream::remote
