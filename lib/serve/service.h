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

#include <condition_variable>
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
#include "serve/tokens.h"
#include "serve/wire.h"
#include "store/backend.h"

namespace kstream::serve {

class BodyStream;

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
  // How long one SubscribeToShard lasts before its stream ends cleanly (the
  // service's 5 minutes; tests shorten it).
  int64_t subscription_ms = 5 * 60 * 1000;
  // Bytes each subscription may send per second (the service's 2 MiB/s per
  // consumer per shard).
  int64_t subscription_bytes_per_second = 2 << 20;
};

// Enhanced fan-out limits.
inline constexpr size_t kMaxConsumersPerStream = 20;
// A deregistered consumer is shown DELETING this long, then it is gone.
inline constexpr int64_t kConsumerDeletingMs = 2000;
// SubscribeToShard calls running at once in one server: each holds a thread
// of its own (not a worker of the pool) and an inotify instance, so they are
// bounded; past it, LimitExceededException.
inline constexpr size_t kMaxSubscriptions = 64;

class Service {
 public:
  Service(Backend* backend, ServiceOptions options);
  ~Service();

  // Runs `operation` (the part of X-Amz-Target after "Kinesis_20131202.").
  // An operation with no output writes nothing to out.
  ApiStatus Call(std::string_view operation, const Value& request, Writer& out);

  // The operations Call() knows, sorted (SubscribeToShard included).
  static std::vector<std::string_view> Operations();

  // SubscribeToShard: checks the request, then answers with an event
  // stream (serve/event_stream.h) in `encoding` that a thread of the
  // subscription's own writes: an initial-response, then a
  // SubscribeToShardEvent as records arrive (woken by the store's change
  // watch), at most subscription_bytes_per_second, until subscription_ms
  // passes, the shard ends (with ChildShards), the reader goes away, or
  // another subscription of the consumer and shard takes over.
  ApiOr<std::shared_ptr<BodyStream>> SubscribeToShard(const Value& request, Encoding encoding);
  // Ends every subscription cleanly and refuses new ones (the server stops).
  void EndSubscriptions();

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
  // Enhanced fan-out consumers (service_consumers.cc).
  ApiStatus RegisterStreamConsumer(const Value& req, Writer& out);
  ApiStatus DescribeStreamConsumer(const Value& req, Writer& out);
  ApiStatus ListStreamConsumers(const Value& req, Writer& out);
  ApiStatus DeregisterStreamConsumer(const Value& req, Writer& out);
  // Over request/response, SubscribeToShard is refused (it needs HTTP/2).
  ApiStatus SubscribeWithoutStream(const Value& req, Writer& out);
  // Where GetShardIterator (and SubscribeToShard's StartingPosition) start:
  // the type and its sequence number or timestamp, checked against the shard.
  ApiOr<ShardIterator> StartIterator(const std::string& stream, std::string_view shard_id,
                                     std::string_view type_text, std::string_view type_path,
                                     std::optional<std::string_view> seq_text,
                                     std::optional<int64_t> timestamp);

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

  // Consumers.
  struct FoundConsumer {
    std::string stream;
    StreamMeta meta;
    ConsumerMeta consumer;
    std::string_view status;  // ACTIVE or DELETING
  };
  // The consumer a request names by ConsumerARN, or StreamARN + ConsumerName.
  ApiOr<FoundConsumer> FindConsumer(const Value& req);
  std::string ConsumerArn(const std::string& stream, const ConsumerMeta& c) const;
  static bool ConsumerGone(const ConsumerMeta& c, int64_t now);
  static size_t LiveConsumers(const StreamMeta& meta, int64_t now);
  void WriteConsumer(Writer& out, const std::string& stream, const ConsumerMeta& c,
                     std::string_view status, bool with_stream_arn) const;

  // Subscriptions (service_subscribe.cc).
  struct Subscription;
  void RunSubscription(const std::shared_ptr<Subscription>& sub);
  // Stops the subscriptions to `stream` (of one consumer, unless
  // consumer_arn is empty); each ends with `error` as an exception event.
  void StopSubscriptions(const std::string& stream, const std::string& consumer_arn,
                         const ApiError& error);

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

  std::mutex subscriptions_mu_;
  std::condition_variable subscriptions_done_;
  // Running subscriptions by consumer ARN and shard; guarded by subscriptions_mu_.
  std::map<std::string, std::shared_ptr<Subscription>> subscriptions_;
  size_t subscription_threads_ = 0;   // guarded by subscriptions_mu_
  bool subscriptions_ended_ = false;  // guarded by subscriptions_mu_
};

// Shared by GetRecords and SubscribeToShard (service_records.cc).
StartPosition StartOf(const ShardIterator& it);
void WriteRecord(Writer& out, const RecordBatch::Record& r);
// "ChildShards": the shards that continue the keys of closed shard `parent`.
void WriteChildShards(Writer& out, const StreamMeta& meta, uint64_t parent);
// "HashKeyRange": {StartingHashKey, EndingHashKey} as decimal strings.
void WriteHashKeyRange(Writer& out, uint128 start, uint128 end);

}  // namespace kstream::serve
