// Shards: ListShards (pages, ShardFilter) and resharding (SplitShard,
// MergeShards, UpdateShardCount).
#include <algorithm>

#include "core/text.h"
#include "scale/plan.h"
#include "scale/scaler.h"
#include "serve/request.h"
#include "serve/service.h"
#include "serve/tokens.h"

namespace kstream::serve {
namespace {

struct ShardFilter {
  std::string type = "FROM_TRIM_HORIZON";
  std::string shard;          // AFTER_SHARD_ID
  int64_t timestamp_ms = -1;  // AT_TIMESTAMP, FROM_TIMESTAMP
};

ApiOr<ShardFilter> ParseShardFilter(const Value& req, Encoding encoding) {
  ShardFilter f;
  API_ASSIGN_OR_RETURN(const Value* v, Member(req, "ShardFilter", Value::Kind::kObject));
  if (!v) return f;
  API_ASSIGN_OR_RETURN(auto type, RequiredString(*v, "Type", 1, 32));
  static const char* const kTypes[] = {"AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON",
                                       "AT_LATEST",      "AT_TIMESTAMP",    "FROM_TIMESTAMP"};
  if (std::find(std::begin(kTypes), std::end(kTypes), type) == std::end(kTypes))
    return ConstraintError("'" + std::string(type) + "'", "shardFilter.type",
                           "satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, "
                           "FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]");
  f.type = std::string(type);
  API_ASSIGN_OR_RETURN(auto shard, OptionalString(*v, "ShardId", 1, 128));
  API_ASSIGN_OR_RETURN(auto ts, OptionalTimestamp(*v, "Timestamp", encoding));
  if (f.type == "AFTER_SHARD_ID") {
    if (!shard) return ApiError::InvalidArgument("ShardId must be given with AFTER_SHARD_ID.");
    f.shard = std::string(*shard);
  } else if (shard) {
    return ApiError::InvalidArgument("ShardId may only be given with AFTER_SHARD_ID.");
  }
  if (f.type == "AT_TIMESTAMP" || f.type == "FROM_TIMESTAMP") {
    if (!ts) return ApiError::InvalidArgument("Timestamp must be given with " + f.type + ".");
    f.timestamp_ms = *ts;
  } else if (ts) {
    return ApiError::InvalidArgument(
        "Timestamp may only be given with AT_TIMESTAMP or "
        "FROM_TIMESTAMP.");
  }
  return f;
}

// Whether a shard passes the filter. Times before the trim horizon (or the
// stream's creation) count as the trim horizon.
bool Passes(const ShardFilter& f, const ShardMeta& s, const StreamMeta& meta, int64_t now) {
  const int64_t horizon = std::max(now - int64_t(meta.retention_hours) * 3600000, meta.created_ms);
  auto open_at = [&](int64_t t) { return s.created_ms <= t && (s.is_open() || *s.closed_ms > t); };
  if (f.type == "AFTER_SHARD_ID") {
    auto after = ParseShardId(f.shard);
    return !after.ok() || s.index > *after;
  }
  if (f.type == "AT_TRIM_HORIZON") return open_at(horizon);
  if (f.type == "AT_LATEST") return s.is_open();
  if (f.type == "AT_TIMESTAMP") return open_at(std::max(f.timestamp_ms, horizon));
  if (f.type == "FROM_TIMESTAMP")
    return s.is_open() || *s.closed_ms >= std::max(f.timestamp_ms, horizon);
  return true;  // FROM_TRIM_HORIZON
}

}  // namespace

ApiStatus Service::ListShards(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(auto token, OptionalString(req, "NextToken", 1, 1048576));
  API_ASSIGN_OR_RETURN(auto max_results, OptionalInt(req, "MaxResults", 1, 10000));
  API_ASSIGN_OR_RETURN(auto start, OptionalString(req, "ExclusiveStartShardId", 1, 128));
  API_ASSIGN_OR_RETURN(auto created,
                       OptionalTimestamp(req, "StreamCreationTimestamp", out.encoding()));
  const bool named = req.Find("StreamName") || req.Find("StreamARN");
  std::string stream, after;
  ShardFilter filter;
  if (token) {
    if (named || start || created)
      return ApiError::InvalidArgument("NextToken and StreamName cannot be provided together.");
    if (req.Find("ShardFilter"))
      return ApiError::InvalidArgument("NextToken and ShardFilter cannot be provided together.");
    API_ASSIGN_OR_RETURN(PageToken page, DecodePageToken(*token, Now()));
    if (page.stream.empty()) return ApiError::InvalidArgument("Invalid NextToken.");
    stream = page.stream;
    after = page.after;
    filter.type = page.filter_type;
    filter.shard = page.filter_shard;
    filter.timestamp_ms = page.filter_timestamp_ms;
  } else {
    if (!named)
      return ApiError::InvalidArgument("Either NextToken or StreamName should be provided.");
    API_ASSIGN_OR_RETURN(stream, StreamNameOf(req));
    API_ASSIGN_OR_RETURN(filter, ParseShardFilter(req, out.encoding()));
    if (start) after = std::string(*start);
  }
  API_ASSIGN_OR_RETURN(StreamMeta meta, Meta(stream));
  std::optional<uint64_t> after_index;
  if (!after.empty()) {
    auto index = ParseShardId(after);
    if (index.ok()) after_index = *index;
  }
  const size_t max = size_t(max_results.value_or(1000));
  const int64_t now = Now();
  out.BeginObject();
  out.Key("Shards");
  out.BeginArray();
  size_t written = 0;
  std::string last;
  bool more = false;
  for (const auto& shard : meta.shards) {
    if (after_index && shard.index <= *after_index) continue;
    if (!Passes(filter, shard, meta, now)) continue;
    if (written == max) {
      more = true;
      break;
    }
    WriteShard(out, shard);
    last = shard.id();
    ++written;
  }
  out.EndArray();
  if (more) {
    PageToken next;
    next.stream = stream;
    next.after = last;
    next.filter_type = filter.type;
    next.filter_shard = filter.shard;
    next.filter_timestamp_ms = filter.timestamp_ms;
    next.issued_ms = now;
    out.Key("NextToken");
    out.String(EncodePageToken(next));
  }
  out.EndObject();
  return {};
}

ApiStatus Service::Reshard(const std::string& stream, int64_t added_shards,
                           const std::function<Status()>& op) {
  std::lock_guard<std::mutex> lock(control_mu_);
  if (added_shards > 0) API_RETURN_IF_ERROR(CheckShardQuota(added_shards));
  Status s = op();
  if (!s.ok()) return StoreError(s, stream);
  return {};
}

ApiStatus Service::SplitShard(const Value& req, Writer&) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(auto shard_id, RequiredString(req, "ShardToSplit", 1, 128));
  API_ASSIGN_OR_RETURN(auto key_text, RequiredString(req, "NewStartingHashKey", 1, 128));
  API_ASSIGN_OR_RETURN(uint64_t shard, ShardIndexOf(shard_id, "ShardToSplit"));
  API_ASSIGN_OR_RETURN(uint128 key, HashKeyOf(key_text, "NewStartingHashKey"));
  // One open shard becomes two.
  return Reshard(stream, 1, [&] { return backend_->SplitShard(stream, shard, key); });
}

ApiStatus Service::MergeShards(const Value& req, Writer&) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(auto a_id, RequiredString(req, "ShardToMerge", 1, 128));
  API_ASSIGN_OR_RETURN(auto b_id, RequiredString(req, "AdjacentShardToMerge", 1, 128));
  API_ASSIGN_OR_RETURN(uint64_t a, ShardIndexOf(a_id, "ShardToMerge"));
  API_ASSIGN_OR_RETURN(uint64_t b, ShardIndexOf(b_id, "AdjacentShardToMerge"));
  return Reshard(stream, 0, [&] { return backend_->MergeShards(stream, a, b); });
}

ApiStatus Service::UpdateShardCount(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(int64_t target, RequiredInt(req, "TargetShardCount", 1, 100000));
  API_ASSIGN_OR_RETURN(auto scaling, RequiredString(req, "ScalingType", 1, 32));
  if (scaling != "UNIFORM_SCALING")
    return ConstraintError("'" + std::string(scaling) + "'", "scalingType",
                           "satisfy enum value set: [UNIFORM_SCALING]");
  std::lock_guard<std::mutex> lock(control_mu_);
  API_ASSIGN_OR_RETURN(StreamMeta meta, Meta(stream));
  const int64_t open = int64_t(meta.OpenShards().size());
  // The service's rule: one call at most doubles or halves the open shards.
  if (target > 2 * open)
    return ApiError::LimitExceeded(
        "UpdateShardCount cannot scale up over double your current "
        "open shard count. Current open shard count: " +
        std::to_string(open) + " Target shard count: " + std::to_string(target));
  if (target * 2 < open)
    return ApiError::LimitExceeded(
        "UpdateShardCount cannot scale down below half your current "
        "open shard count. Current open shard count: " +
        std::to_string(open) + " Target shard count: " + std::to_string(target));
  if (target > kMaxShardsPerStream)
    return ApiError::LimitExceeded("UpdateShardCount cannot scale up over 10000 shards.");
  if (target > open) API_RETURN_IF_ERROR(CheckShardQuota(target - open));
  auto ops = PlanUniformResize(meta, int(target), nullptr);
  Status s = ExecuteOps(*backend_, stream, ops, nullptr);
  if (!s.ok()) return StoreError(s, stream);
  out.BeginObject();
  out.Key("StreamName");
  out.String(stream);
  out.Key("StreamARN");
  out.String(Arn(stream));
  out.Key("CurrentShardCount");
  out.Int(open);
  out.Key("TargetShardCount");
  out.Int(target);
  out.EndObject();
  return {};
}

}  // namespace kstream::serve
