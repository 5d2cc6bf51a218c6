// Records: PutRecord, PutRecords, GetShardIterator, GetRecords.
#include <algorithm>

#include "core/text.h"
#include "serve/request.h"
#include "serve/service.h"
#include "serve/tokens.h"

namespace kstream::serve {
namespace {

constexpr size_t kMaxPutRecords = 500;
constexpr size_t kMaxPutRecordsBytes = 5u << 20;
constexpr size_t kMaxGetRecordsBytes = 10u << 20;

// One record of a put request, decoded and checked.
struct InRecord {
  std::string data;
  std::string partition_key;
  std::optional<uint128> explicit_hash_key;
};

ApiOr<InRecord> ParseRecord(const Value& v, const std::string& prefix) {
  if (v.kind != Value::Kind::kObject)
    return ApiError::Serialization("Each record must be an object (" + prefix + ")");
  InRecord r;
  API_ASSIGN_OR_RETURN(r.data, RequiredBlob(v, "Data", prefix + "data"));
  if (r.data.size() > kMaxRecordBytes)
    return ConstraintError(
        "'java.nio.HeapByteBuffer[pos=0 lim=" + std::to_string(r.data.size()) + "]'",
        prefix + "data", "have length less than or equal to 1048576");
  API_ASSIGN_OR_RETURN(const Value* key, Member(v, "PartitionKey", Value::Kind::kString));
  if (!key) return ConstraintError("null", prefix + "partitionKey", "not be null");
  size_t chars = 0;
  for (unsigned char c : key->text) chars += (c & 0xC0) != 0x80;
  if (chars < 1 || chars > kMaxPartitionKeyChars)
    return ConstraintError("'" + key->text.substr(0, 300) + "'", prefix + "partitionKey",
                           "have length between 1 and 256");
  r.partition_key = key->text;
  API_ASSIGN_OR_RETURN(const Value* ehk, Member(v, "ExplicitHashKey", Value::Kind::kString));
  if (ehk) {
    API_ASSIGN_OR_RETURN(uint128 h, HashKeyOf(ehk->text, "ExplicitHashKey"));
    r.explicit_hash_key = h;
  }
  if (r.data.size() + r.partition_key.size() > kMaxRecordBytes)
    return ApiError::InvalidArgument(
        "The size of the record (partition key plus data) exceeds "
        "the limit of 1048576 bytes.");
  return r;
}

std::string RateExceeded(uint64_t shard, const std::string& stream, const std::string& account) {
  return "Rate exceeded for shard " + ShardIdFor(shard) + " in stream " + stream +
         " under account " + account + ".";
}

}  // namespace

ApiStatus Service::PutRecord(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(InRecord r, ParseRecord(req, ""));
  API_ASSIGN_OR_RETURN(auto ordering, OptionalString(req, "SequenceNumberForOrdering", 1, 129));
  if (ordering)
    API_RETURN_IF_ERROR(SequenceNumberOf(*ordering, "SequenceNumberForOrdering").status());
  if (options_.enforce_limits) {
    API_ASSIGN_OR_RETURN(StreamMeta meta, Meta(stream));
    const uint128 h =
        r.explicit_hash_key ? *r.explicit_hash_key : HashPartitionKey(r.partition_key);
    const ShardMeta* shard = meta.OpenShardFor(h);
    if (shard &&
        !throttle_.AdmitWrite(stream, shard->index, r.data.size() + r.partition_key.size(), Now()))
      return ApiError::Throttled(RateExceeded(shard->index, stream, options_.account));
  }
  const kstream::PutRecord record{r.partition_key, r.data, r.explicit_hash_key};
  std::vector<PutResult> results;
  Status s = Put(stream, std::span(&record, 1), results);
  if (!s.ok()) return StoreError(s, stream);
  out.BeginObject();
  out.Key("ShardId");
  out.String(ShardIdFor(results[0].shard_index));
  out.Key("SequenceNumber");
  out.String(ToDecimal(results[0].sequence));
  out.Key("EncryptionType");
  out.String("NONE");
  out.EndObject();
  return {};
}

ApiStatus Service::PutRecords(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(const Value* list, Member(req, "Records", Value::Kind::kArray));
  if (!list) return ConstraintError("null", "records", "not be null");
  if (list->items.empty())
    return ConstraintError("'[]'", "records", "have length greater than or equal to 1");
  if (list->items.size() > kMaxPutRecords)
    return ConstraintError("'" + std::to_string(list->items.size()) + " records'", "records",
                           "have length less than or equal to 500");
  std::vector<InRecord> in(list->items.size());
  size_t total = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    API_ASSIGN_OR_RETURN(
        in[i], ParseRecord(list->items[i], "records." + std::to_string(i + 1) + ".member."));
    total += in[i].data.size() + in[i].partition_key.size();
  }
  if (total > kMaxPutRecordsBytes)
    return ApiError::InvalidArgument("Records size exceeds 5 MB limit");

  // Throttled records fail alone; the others are written.
  std::vector<bool> throttled(in.size(), false);
  std::vector<uint64_t> throttled_shard(in.size(), 0);
  if (options_.enforce_limits) {
    API_ASSIGN_OR_RETURN(StreamMeta meta, Meta(stream));
    const int64_t now = Now();
    for (size_t i = 0; i < in.size(); ++i) {
      const uint128 h = in[i].explicit_hash_key ? *in[i].explicit_hash_key
                                                : HashPartitionKey(in[i].partition_key);
      const ShardMeta* shard = meta.OpenShardFor(h);
      if (shard && !throttle_.AdmitWrite(stream, shard->index,
                                         in[i].data.size() + in[i].partition_key.size(), now)) {
        throttled[i] = true;
        throttled_shard[i] = shard->index;
      }
    }
  }
  std::vector<kstream::PutRecord> records;
  records.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    if (!throttled[i])
      records.push_back({in[i].partition_key, in[i].data, in[i].explicit_hash_key});
  std::vector<PutResult> results;
  if (!records.empty()) {
    Status s = Put(stream, records, results);
    if (!s.ok()) return StoreError(s, stream);
  }
  out.BeginObject();
  out.Key("FailedRecordCount");
  out.Int(int64_t(in.size() - records.size()));
  out.Key("Records");
  out.BeginArray();
  size_t next = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    out.BeginObject();
    if (throttled[i]) {
      out.Key("ErrorCode");
      out.String("ProvisionedThroughputExceededException");
      out.Key("ErrorMessage");
      out.String(RateExceeded(throttled_shard[i], stream, options_.account));
    } else {
      const PutResult& r = results[next++];
      out.Key("SequenceNumber");
      out.String(ToDecimal(r.sequence));
      out.Key("ShardId");
      out.String(ShardIdFor(r.shard_index));
    }
    out.EndObject();
  }
  out.EndArray();
  out.Key("EncryptionType");
  out.String("NONE");
  out.EndObject();
  return {};
}

ApiStatus Service::GetShardIterator(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(auto shard_id, RequiredString(req, "ShardId", 1, 128));
  API_ASSIGN_OR_RETURN(auto type_text, RequiredString(req, "ShardIteratorType", 1, 32));
  API_ASSIGN_OR_RETURN(auto seq_text, OptionalString(req, "StartingSequenceNumber", 1, 129));
  API_ASSIGN_OR_RETURN(auto timestamp, OptionalTimestamp(req, "Timestamp", out.encoding()));
  API_ASSIGN_OR_RETURN(ShardIterator it, StartIterator(stream, shard_id, type_text,
                                                       "shardIteratorType", seq_text, timestamp));
  out.BeginObject();
  out.Key("ShardIterator");
  out.String(EncodeShardIterator(it));
  out.EndObject();
  return {};
}

ApiOr<ShardIterator> Service::StartIterator(const std::string& stream, std::string_view shard_id,
                                            std::string_view type_text, std::string_view type_path,
                                            std::optional<std::string_view> seq_text,
                                            std::optional<int64_t> timestamp) {
  auto type = ParseIteratorType(type_text);
  if (!type.ok())
    return ConstraintError("'" + std::string(type_text) + "'", type_path,
                           "satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, "
                           "TRIM_HORIZON, LATEST, AT_TIMESTAMP]");
  const bool by_sequence =
      *type == IteratorType::kAtSequenceNumber || *type == IteratorType::kAfterSequenceNumber;
  if (by_sequence != seq_text.has_value())
    return ApiError::InvalidArgument(
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
        "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
        "Request specified " +
        std::string(type_text) +
        (seq_text ? " and also a StartingSequenceNumber." : " and no StartingSequenceNumber."));
  if ((*type == IteratorType::kAtTimestamp) != timestamp.has_value())
    return ApiError::InvalidArgument(
        "Must specify timestampInMillis parameter for iterator of "
        "type AT_TIMESTAMP, and only for it.");
  API_ASSIGN_OR_RETURN(StreamMeta meta, Meta(stream));
  auto index = ParseShardId(shard_id);
  const ShardMeta* shard = index.ok() ? meta.FindShard(*index) : nullptr;
  if (!shard)
    return ApiError::NotFound("Shard " + std::string(shard_id) + " in stream " + stream +
                              " under account " + options_.account + " does not exist");
  const int64_t now = Now();
  ShardIterator it;
  it.stream = stream;
  it.stream_created_ms = meta.created_ms;
  it.shard_index = shard->index;
  it.issued_ms = now;
  switch (*type) {
    case IteratorType::kTrimHorizon:
      it.kind = ShardIterator::Kind::kTrimHorizon;
      break;
    case IteratorType::kLatest: {
      auto stats = backend_->GetShardStats(stream, shard->index);
      if (!stats.ok()) return StoreError(stats.status(), stream);
      it.kind = ShardIterator::Kind::kAfter;
      it.counter = stats->last_sequence ? SequenceCounter(*stats->last_sequence).value_or(0) : 0;
      break;
    }
    case IteratorType::kAtSequenceNumber:
    case IteratorType::kAfterSequenceNumber: {
      API_ASSIGN_OR_RETURN(uint128 seq, SequenceNumberOf(*seq_text, "StartingSequenceNumber"));
      if (seq >> 64 == 0 || SequenceShardIndex(seq) != shard->index)
        return ApiError::InvalidArgument(
            "Invalid StartingSequenceNumber. It encodes " +
            (seq >> 64 == 0 ? std::string("no shard") : ShardIdFor(SequenceShardIndex(seq))) +
            ", while it was used in a call to a shard with " + shard->id());
      const uint64_t counter = SequenceCounter(seq);
      it.kind = ShardIterator::Kind::kAfter;
      it.counter = *type == IteratorType::kAtSequenceNumber ? (counter ? counter - 1 : 0) : counter;
      break;
    }
    case IteratorType::kAtTimestamp:
      if (*timestamp > now)
        return ApiError::InvalidArgument(
            "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
            "timestampInMillis: " +
            std::to_string(*timestamp) + ", currentTimestampInMillis: " + std::to_string(now));
      it.kind = ShardIterator::Kind::kAtTimestamp;
      it.timestamp_ms = *timestamp;
      break;
  }
  return it;
}

StartPosition StartOf(const ShardIterator& it) {
  StartPosition start;
  switch (it.kind) {
    case ShardIterator::Kind::kTrimHorizon:
      start.type = IteratorType::kTrimHorizon;
      break;
    case ShardIterator::Kind::kAfter:
      start.type = IteratorType::kAfterSequenceNumber;
      start.sequence = MakeSequenceNumber(it.shard_index, it.counter);
      break;
    case ShardIterator::Kind::kAtTimestamp:
      start.type = IteratorType::kAtTimestamp;
      start.timestamp_ms = it.timestamp_ms;
      break;
  }
  return start;
}

void WriteRecord(Writer& out, const RecordBatch::Record& r) {
  out.BeginObject();
  out.Key("SequenceNumber");
  out.String(ToDecimal(r.sequence));
  out.Key("ApproximateArrivalTimestamp");
  out.Timestamp(r.arrival_ms);
  out.Key("Data");
  out.Blob(r.data);
  out.Key("PartitionKey");
  out.String(r.partition_key);
  out.EndObject();
}

void WriteHashKeyRange(Writer& out, uint128 start, uint128 end) {
  out.Key("HashKeyRange");
  out.BeginObject();
  out.Key("StartingHashKey");
  out.String(ToDecimal(start));
  out.Key("EndingHashKey");
  out.String(ToDecimal(end));
  out.EndObject();
}

void WriteChildShards(Writer& out, const StreamMeta& meta, uint64_t parent) {
  out.Key("ChildShards");
  out.BeginArray();
  for (const auto& child : meta.shards) {
    if (child.parent != parent && child.adjacent_parent != parent) continue;
    out.BeginObject();
    out.Key("ShardId");
    out.String(child.id());
    out.Key("ParentShards");
    out.BeginArray();
    if (child.parent) out.String(ShardIdFor(*child.parent));
    if (child.adjacent_parent) out.String(ShardIdFor(*child.adjacent_parent));
    out.EndArray();
    WriteHashKeyRange(out, child.start_hash, child.end_hash);
    out.EndObject();
  }
  out.EndArray();
}

ApiStatus Service::GetRecords(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(auto token, RequiredString(req, "ShardIterator", 1, 512));
  API_ASSIGN_OR_RETURN(auto limit, OptionalInt(req, "Limit", 1, 10000));
  const int64_t now = Now();
  API_ASSIGN_OR_RETURN(ShardIterator it, DecodeShardIterator(token, now));
  API_ASSIGN_OR_RETURN(StreamMeta meta, Meta(it.stream));
  const ShardMeta* shard = meta.FindShard(it.shard_index);
  if (meta.created_ms != it.stream_created_ms || !shard)
    return ApiError::NotFound("Shard " + ShardIdFor(it.shard_index) + " in stream " + it.stream +
                              " under account " + options_.account + " does not exist");
  if (options_.enforce_limits && !throttle_.AdmitRead(it.stream, it.shard_index, now))
    return ApiError::Throttled(RateExceeded(it.shard_index, it.stream, options_.account));

  auto cursor = backend_->OpenCursor(it.stream, it.shard_index, StartOf(it));
  if (!cursor.ok()) return StoreError(cursor.status(), it.stream);
  RecordBatch batch;
  auto state = (*cursor)->Read(batch, size_t(limit.value_or(10000)), kMaxGetRecordsBytes);
  if (!state.ok()) return StoreError(state.status(), it.stream);
  if (options_.enforce_limits) throttle_.ChargeRead(it.stream, it.shard_index, batch.bytes(), now);

  out.BeginObject();
  out.Key("Records");
  out.BeginArray();
  for (size_t i = 0; i < batch.size(); ++i) WriteRecord(out, batch[i]);
  out.EndArray();
  const bool more = *state == ShardCursor::State::kMore;
  out.Key("MillisBehindLatest");
  out.Int(more && !batch.empty() ? std::max<int64_t>(0, now - batch[batch.size() - 1].arrival_ms)
                                 : 0);
  if (*state == ShardCursor::State::kShardEnd) {
    // The end of a closed shard: no next iterator (the KCL's SHARD_END), and
    // the shards that continue its keys.
    WriteChildShards(out, meta, it.shard_index);
  } else {
    ShardIterator next = it;
    next.issued_ms = now;
    if (!batch.empty()) {
      next.kind = ShardIterator::Kind::kAfter;
      next.counter = *SequenceCounter(batch[batch.size() - 1].sequence);  // the local layout
    }
    out.Key("NextShardIterator");
    out.String(EncodeShardIterator(next));
  }
  out.EndObject();
  return {};
}

}  // namespace kstream::serve
