// Stream-level operations: create, delete, describe, list, retention, tags.
#include <algorithm>

#include "core/text.h"
#include "serve/request.h"
#include "serve/service.h"
#include "serve/tokens.h"

namespace kstream::serve {
namespace {

constexpr int kMaxTagsPerCall = 10;
constexpr int kMaxTagsPerStream = 50;

void WriteStreamMode(Writer& out) {
  out.Key("StreamModeDetails");
  out.BeginObject();
  out.Key("StreamMode");
  out.String("PROVISIONED");
  out.EndObject();
}

void WriteNoMonitoring(Writer& out) {
  out.Key("EnhancedMonitoring");
  out.BeginArray();
  out.BeginObject();
  out.Key("ShardLevelMetrics");
  out.BeginArray();
  out.EndArray();
  out.EndObject();
  out.EndArray();
}

// Tags from a {"key": "value"} map (CreateStream, AddTagsToStream), checked.
ApiOr<std::map<std::string, std::string>> TagMap(const Value& req, bool required) {
  API_ASSIGN_OR_RETURN(const Value* tags, Member(req, "Tags", Value::Kind::kObject));
  std::map<std::string, std::string> out;
  if (!tags) {
    if (required) return ConstraintError("null", "tags", "not be null");
    return out;
  }
  if (tags->members.size() > size_t(kMaxTagsPerCall) || (required && tags->members.empty()))
    return ConstraintError("'" + std::to_string(tags->members.size()) + " tags'", "tags",
                           "have length between 1 and 10");
  for (const auto& [key, value] : tags->members) {
    if (value.kind != Value::Kind::kString)
      return ApiError::Serialization("Tag values must be strings");
    if (key.empty() || key.size() > 128)
      return ConstraintError("'" + key + "'", "tags.key", "have length between 1 and 128");
    if (value.text.size() > 256)
      return ConstraintError("'" + value.text + "'", "tags.value",
                             "have length less than or equal to 256");
    out[key] = value.text;
  }
  return out;
}

// Writes the items that skip does not drop, at most max; true if more were left.
template <typename Items, typename Skip, typename Write>
bool WritePage(const Items& items, size_t max, Skip skip, Write write) {
  size_t written = 0;
  for (const auto& item : items) {
    if (skip(item)) continue;
    if (written == max) return true;
    write(item);
    ++written;
  }
  return false;
}

}  // namespace

ApiOr<Service::StreamPage> Service::ReadStreamPage(const Value& req, std::string_view start_key,
                                                   int64_t max_limit, int64_t page_size) {
  StreamPage page;
  API_ASSIGN_OR_RETURN(page.stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(auto limit, OptionalInt(req, "Limit", 1, max_limit));
  API_ASSIGN_OR_RETURN(page.start, OptionalString(req, start_key, 1, 128));
  API_ASSIGN_OR_RETURN(page.meta, Meta(page.stream));
  page.size = size_t(std::min(limit.value_or(page_size), page_size));
  return page;
}

ApiStatus Service::CreateStream(const Value& req, Writer&) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(auto shards, OptionalInt(req, "ShardCount", 1, 100000));
  API_ASSIGN_OR_RETURN(const Value* mode, Member(req, "StreamModeDetails", Value::Kind::kObject));
  bool on_demand = false;
  if (mode) {
    API_ASSIGN_OR_RETURN(auto m, RequiredString(*mode, "StreamMode", 1, 32));
    if (m != "PROVISIONED" && m != "ON_DEMAND")
      return ConstraintError("'" + std::string(m) + "'", "streamModeDetails.streamMode",
                             "satisfy enum value set: [PROVISIONED, ON_DEMAND]");
    on_demand = m == "ON_DEMAND";
  }
  if (!shards && !on_demand)
    return ApiError::InvalidArgument("ShardCount must be given for a PROVISIONED stream.");
  API_ASSIGN_OR_RETURN(auto tags, TagMap(req, false));
  // On-demand streams start with four shards, as in Kinesis; kstream keeps
  // them provisioned (there is no automatic scaling here).
  const int count = shards ? int(*shards) : 4;
  std::lock_guard<std::mutex> lock(control_mu_);  // the quota check and the creation together
  API_RETURN_IF_ERROR(CheckShardQuota(count));
  Status s = backend_->CreateStream(stream, count, kMinRetentionHours);
  if (!s.ok()) return StoreError(s, stream);
  if (!tags.empty()) {
    s = backend_->UpdateTags(stream, tags, {});
    if (!s.ok()) return StoreError(s, stream);
  }
  return {};
}

ApiStatus Service::DeleteStream(const Value& req, Writer&) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(auto enforce, OptionalBool(req, "EnforceConsumerDeletion"));
  if (!enforce.value_or(false)) {
    API_ASSIGN_OR_RETURN(StreamMeta meta, Meta(stream));
    if (LiveConsumers(meta, Now()) > 0)
      return ApiError::InUse("Stream " + stream + " under account " + options_.account +
                             " has registered consumers. Deregister them or set "
                             "EnforceConsumerDeletion.");
  }
  StopSubscriptions(stream, "",
                    ApiError::NotFound("Stream " + stream + " under account " + options_.account +
                                       " was deleted."));
  DropWriters(stream);
  Status s = backend_->DeleteStream(stream);
  if (!s.ok()) return StoreError(s, stream);
  DropWriters(stream);
  return {};
}

ApiStatus Service::DescribeStream(const Value& req, Writer& out) {
  // Limit may be up to 10000, but the service answers at most 100 shards.
  API_ASSIGN_OR_RETURN(StreamPage page, ReadStreamPage(req, "ExclusiveStartShardId", 10000, 100));
  std::optional<uint64_t> after;
  if (page.start) {
    auto index = ParseShardId(*page.start);
    if (index.ok()) after = *index;
  }
  out.BeginObject();
  out.Key("StreamDescription");
  out.BeginObject();
  out.Key("StreamName");
  out.String(page.stream);
  out.Key("StreamARN");
  out.String(Arn(page.stream));
  out.Key("StreamStatus");
  out.String("ACTIVE");
  WriteStreamMode(out);
  out.Key("Shards");
  out.BeginArray();
  const bool more = WritePage(
      page.meta.shards, page.size,
      [&](const ShardMeta& shard) { return after && shard.index <= *after; },
      [&](const ShardMeta& shard) { WriteShard(out, shard); });
  out.EndArray();
  out.Key("HasMoreShards");
  out.Bool(more);
  out.Key("RetentionPeriodHours");
  out.Int(page.meta.retention_hours);
  out.Key("StreamCreationTimestamp");
  out.Timestamp(page.meta.created_ms);
  WriteNoMonitoring(out);
  out.Key("EncryptionType");
  out.String("NONE");
  out.EndObject();
  out.EndObject();
  return {};
}

ApiStatus Service::DescribeStreamSummary(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(StreamMeta meta, Meta(stream));
  out.BeginObject();
  out.Key("StreamDescriptionSummary");
  out.BeginObject();
  out.Key("StreamName");
  out.String(stream);
  out.Key("StreamARN");
  out.String(Arn(stream));
  out.Key("StreamStatus");
  out.String("ACTIVE");
  WriteStreamMode(out);
  out.Key("RetentionPeriodHours");
  out.Int(meta.retention_hours);
  out.Key("StreamCreationTimestamp");
  out.Timestamp(meta.created_ms);
  WriteNoMonitoring(out);
  out.Key("EncryptionType");
  out.String("NONE");
  out.Key("OpenShardCount");
  out.Int(int64_t(meta.OpenShards().size()));
  out.Key("ConsumerCount");
  out.Int(int64_t(LiveConsumers(meta, Now())));
  out.EndObject();
  out.EndObject();
  return {};
}

ApiStatus Service::ListStreams(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(auto limit, OptionalInt(req, "Limit", 1, 10000));
  API_ASSIGN_OR_RETURN(auto start, OptionalString(req, "ExclusiveStartStreamName", 1, 128));
  API_ASSIGN_OR_RETURN(auto token, OptionalString(req, "NextToken", 1, 1048576));
  std::string after = start ? std::string(*start) : "";
  if (token) {
    API_ASSIGN_OR_RETURN(PageToken page, DecodePageToken(*token, Now()));
    after = page.after;
  }
  auto names = backend_->ListStreams();
  if (!names.ok()) return FromStatus(names.status());
  std::sort(names->begin(), names->end());
  const size_t max = size_t(std::min<int64_t>(limit.value_or(100), 100));
  std::vector<std::string> page;
  bool more = false;
  for (const auto& name : *names) {
    if (!after.empty() && name <= after) continue;
    if (page.size() == max) {
      more = true;
      break;
    }
    page.push_back(name);
  }
  out.BeginObject();
  out.Key("StreamNames");
  out.BeginArray();
  for (const auto& name : page) out.String(name);
  out.EndArray();
  out.Key("HasMoreStreams");
  out.Bool(more);
  if (more) {
    PageToken next;
    next.after = page.back();
    next.issued_ms = Now();
    out.Key("NextToken");
    out.String(EncodePageToken(next));
  }
  out.Key("StreamSummaries");
  out.BeginArray();
  for (const auto& name : page) {
    auto meta = backend_->ListShards(name);
    out.BeginObject();
    out.Key("StreamName");
    out.String(name);
    out.Key("StreamARN");
    out.String(Arn(name));
    out.Key("StreamStatus");
    out.String("ACTIVE");
    WriteStreamMode(out);
    if (meta.ok()) {
      out.Key("StreamCreationTimestamp");
      out.Timestamp(meta->created_ms);
    }
    out.EndObject();
  }
  out.EndArray();
  out.EndObject();
  return {};
}

ApiStatus Service::ChangeRetention(const Value& req, bool increase) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(int64_t hours, RequiredInt(req, "RetentionPeriodHours", 1, 1000000));
  API_ASSIGN_OR_RETURN(StreamMeta meta, Meta(stream));
  const std::string h = std::to_string(hours);
  if (increase && hours < meta.retention_hours)
    return ApiError::InvalidArgument(
        "Requested retention period (" + h + " hours) for stream " + stream +
        " can not be shorter than existing retention period (" +
        std::to_string(meta.retention_hours) + " hours). Use DecreaseRetentionPeriod API.");
  if (!increase && hours > meta.retention_hours)
    return ApiError::InvalidArgument(
        "Requested retention period (" + h + " hours) for stream " + stream +
        " can not be longer than existing retention period (" +
        std::to_string(meta.retention_hours) + " hours). Use IncreaseRetentionPeriod API.");
  if (hours < kMinRetentionHours)
    return ApiError::InvalidArgument(
        "Minimum allowed retention period is 24 hours. Requested "
        "retention period (" +
        h + " hours) is too short.");
  if (hours > kMaxRetentionHours)
    return ApiError::InvalidArgument(
        "Maximum allowed retention period is 8760 hours. Requested "
        "retention period (" +
        h + " hours) is too long.");
  Status s = backend_->SetRetention(stream, int(hours));
  if (!s.ok()) return StoreError(s, stream);
  return {};
}

ApiStatus Service::IncreaseRetention(const Value& req, Writer&) {
  return ChangeRetention(req, true);
}

ApiStatus Service::DecreaseRetention(const Value& req, Writer&) {
  return ChangeRetention(req, false);
}

ApiStatus Service::AddTags(const Value& req, Writer&) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(auto tags, TagMap(req, true));
  std::lock_guard<std::mutex> lock(control_mu_);
  API_ASSIGN_OR_RETURN(StreamMeta meta, Meta(stream));
  auto merged = meta.tags;
  for (const auto& [k, v] : tags) merged[k] = v;
  if (merged.size() > size_t(kMaxTagsPerStream))
    return ApiError::LimitExceeded("Failed to add tags to stream " + stream + " under account " +
                                   options_.account + " because a given stream cannot have more " +
                                   "than 50 tags.");
  Status s = backend_->UpdateTags(stream, tags, {});
  if (!s.ok()) return StoreError(s, stream);
  return {};
}

ApiStatus Service::RemoveTags(const Value& req, Writer&) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(const Value* keys, Member(req, "TagKeys", Value::Kind::kArray));
  if (!keys) return ConstraintError("null", "tagKeys", "not be null");
  if (keys->items.empty() || keys->items.size() > size_t(kMaxTagsPerCall))
    return ConstraintError("'" + std::to_string(keys->items.size()) + " keys'", "tagKeys",
                           "have length between 1 and 10");
  std::vector<std::string> remove;
  for (const auto& k : keys->items) {
    if (k.kind != Value::Kind::kString) return ApiError::Serialization("TagKeys must be strings");
    remove.push_back(k.text);
  }
  Status s = backend_->UpdateTags(stream, {}, remove);
  if (!s.ok()) return StoreError(s, stream);
  return {};
}

ApiStatus Service::ListTags(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(StreamPage page, ReadStreamPage(req, "ExclusiveStartTagKey", 50, 50));
  out.BeginObject();
  out.Key("Tags");
  out.BeginArray();
  const bool more = WritePage(
      page.meta.tags, page.size,
      [&](const auto& tag) { return page.start && tag.first <= *page.start; },
      [&](const auto& tag) {
        out.BeginObject();
        out.Key("Key");
        out.String(tag.first);
        out.Key("Value");
        out.String(tag.second);
        out.EndObject();
      });
  out.EndArray();
  out.Key("HasMoreTags");
  out.Bool(more);
  out.EndObject();
  return {};
}

ApiOr<int64_t> Service::OpenShardsInAccount() {
  auto names = backend_->ListStreams();
  if (!names.ok()) return FromStatus(names.status());
  int64_t open = 0;
  for (const auto& name : *names) {
    auto meta = backend_->ListShards(name);
    if (meta.ok()) open += int64_t(meta->OpenShards().size());  // or deleted meanwhile
  }
  return open;
}

ApiStatus Service::CheckShardQuota(int64_t more) {
  API_ASSIGN_OR_RETURN(int64_t open, OpenShardsInAccount());
  if (open + more <= options_.shard_limit) return {};
  return ApiError::LimitExceeded("This request would exceed the shard limit for the account " +
                                 options_.account + " in " + options_.region +
                                 ". Current limit of shards is " +
                                 std::to_string(options_.shard_limit) + ".");
}

ApiStatus Service::DescribeLimits(const Value&, Writer& out) {
  API_ASSIGN_OR_RETURN(int64_t open, OpenShardsInAccount());
  out.BeginObject();
  out.Key("ShardLimit");
  out.Int(options_.shard_limit);
  out.Key("OpenShardCount");
  out.Int(open);
  out.Key("OnDemandStreamCount");
  out.Int(0);
  out.Key("OnDemandStreamCountLimit");
  out.Int(50);
  out.EndObject();
  return {};
}

}  // namespace kstream::serve
