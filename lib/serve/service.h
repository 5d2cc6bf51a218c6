// Service: the Kinesis API's operations over a Backend, one handler per
// operation, independent of HTTP. Call() takes the decoded request body and
// writes the response body (JSON or CBOR) or returns the service's error.
//
// Thread-safe: many requests run at once. Puts to a stream share one writer
// (appends take turns; a StreamWriter is single-threaded) and its group
// commit: each request waits for a sync that covers its records, so requests
// in flight together share their fsyncs. A PutRecord(s) answer is sent only
// once its records are as durable as the sync mode asks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "serve/api_error.h"
#include "serve/throttle.h"
#include "serve/wire.h"
#include "store/backend.h"

namespace kstream::serve {

struct ServiceOptions {
  std::string region = "us-east-1";  // in ARNs
  std::string account = "000000000000";
  SyncMode sync = SyncMode::kBatch;  // batch: one fsync per request and shard before the answer
  bool enforce_limits = false;       // per-shard throughput limits (Throttle)
  // Open shards the account may hold across its streams, as DescribeLimits
  // reports: CreateStream, SplitShard and UpdateShardCount beyond it fail
  // with LimitExceededException, as in Kinesis (whose default is higher).
  int64_t shard_limit = 10000;
  std::function<int64_t()> clock;  // epoch ms; the system clock when empty
};

class Service {
 public:
  Service(Backend* backend, ServiceOptions options);
  ~Service();

  // Runs `operation` (the part of X-Amz-Target after "Kinesis_20131202.").
  // An operation with no output writes nothing to out.
  ApiStatus Call(std::string_view operation, const Value& request, Writer& out);

  // The operations Call() knows, sorted.
  static std::vector<std::string_view> Operations();

 private:
  using Handler = ApiStatus (Service::*)(const Value&, Writer&);
  static const std::map<std::string_view, Handler>& Handlers();

  // Streams (service_streams.cc).
  ApiStatus CreateStream(const Value& req, Writer& out);
  ApiStatus DeleteStream(const Value& req, Writer& out);
  ApiStatus DescribeStream(const Value& req, Writer& out);
  ApiStatus DescribeStreamSummary(const Value& req, Writer& out);
  ApiStatus ListStreams(const Value& req, Writer& out);
  ApiStatus IncreaseRetention(const Value& req, Writer& out);
  ApiStatus DecreaseRetention(const Value& req, Writer& out);
  ApiStatus AddTags(const Value& req, Writer& out);
  ApiStatus ListTags(const Value& req, Writer& out);
  ApiStatus RemoveTags(const Value& req, Writer& out);
  ApiStatus DescribeLimits(const Value& req, Writer& out);
  // Shards: listing and resharding (service_shards.cc).
  ApiStatus ListShards(const Value& req, Writer& out);
  ApiStatus SplitShard(const Value& req, Writer& out);
  ApiStatus MergeShards(const Value& req, Writer& out);
  ApiStatus UpdateShardCount(const Value& req, Writer& out);
  // Records (service_records.cc).
  ApiStatus PutRecord(const Value& req, Writer& out);
  ApiStatus PutRecords(const Value& req, Writer& out);
  ApiStatus GetShardIterator(const Value& req, Writer& out);
  ApiStatus GetRecords(const Value& req, Writer& out);

  // Helpers shared by the handlers.
  int64_t Now() const;
  std::string Arn(const std::string& stream) const;
  // A store error about `stream`, worded as the service words it.
  ApiError StoreError(const Status& s, const std::string& stream) const;
  ApiOr<StreamMeta> Meta(const std::string& stream);
  // A page of one stream's shards or tags (DescribeStream, ListTags): the
  // stream, its metadata, the exclusive start key named start_key, and how
  // many items the page holds ("Limit", 1..max_limit, at most page_size).
  struct StreamPage {
    std::string stream;
    StreamMeta meta;
    std::optional<std::string_view> start;
    size_t size = 0;
  };
  ApiOr<StreamPage> ReadStreamPage(const Value& req, std::string_view start_key, int64_t max_limit,
                                   int64_t page_size);
  ApiStatus ChangeRetention(const Value& req, bool increase);
  ApiOr<int64_t> OpenShardsInAccount();
  // LimitExceededException if `more` open shards would pass the shard limit.
  ApiStatus CheckShardQuota(int64_t more);
  // Runs a reshard that adds added_shards open shards, within the quota.
  ApiStatus Reshard(const std::string& stream, int64_t added_shards,
                    const std::function<Status()>& op);
  void WriteShard(Writer& out, const ShardMeta& shard) const;

  // Puts records through a pooled writer, syncing as options_.sync asks.
  Status Put(const std::string& stream, std::span<const kstream::PutRecord> records,
             std::vector<PutResult>& results);
  struct SharedWriter;
  Result<std::shared_ptr<SharedWriter>> WriterFor(const std::string& stream);
  void DropWriters(const std::string& stream);

  Backend* backend_;
  ServiceOptions options_;
  Throttle throttle_;
  std::mutex writers_mu_;
  std::map<std::string, std::shared_ptr<SharedWriter>> writers_;  // guarded by writers_mu_
  // Serializes reshards, creations and tag changes of the server's own
  // requests (the store serializes them across processes; this keeps
  // UpdateShardCount's sequence of steps from interleaving with another
  // request's, and a shard quota check with the change it admits).
  std::mutex control_mu_;
};

}  // namespace kstream::serve
