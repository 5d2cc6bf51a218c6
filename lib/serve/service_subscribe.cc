// SubscribeToShard: enhanced fan-out's push of records over an HTTP/2 event
// stream. Each subscription runs on a thread of its own, bounded by
// kMaxSubscriptions, that sleeps in the store's change watch while the
// shard is caught up; the HTTP/2 connection's thread sends what it writes
// (serve/body_stream.h), so no worker of the pool is held.
#include <chrono>
#include <thread>

#include "core/text.h"
#include "serve/body_stream.h"
#include "serve/event_stream.h"
#include "serve/request.h"
#include "serve/service.h"

namespace kstream::serve {
namespace {

// A second SubscribeToShard of the same consumer and shard this soon after
// a successful one is refused; later, it takes over (as the service does).
constexpr int64_t kTakeoverAfterMs = 5000;
// An event is sent at least this often, records or not, so a reader sees
// ContinuationSequenceNumber and MillisBehindLatest move.
constexpr int64_t kHeartbeatMs = 5000;
// How long a caught-up subscription sleeps in the watch before it looks at
// its stop flag and clock again.
constexpr int kWatchSliceMs = 250;
constexpr size_t kMaxEventRecords = 10000;
constexpr int64_t kMaxEventBytes = 1 << 20;  // record bytes per event

const char* ContentType(Encoding e) {
  return e == Encoding::kCbor ? "application/x-amz-cbor-1.1" : "application/x-amz-json-1.1";
}

std::string Event(Encoding encoding, std::string_view type, std::string_view payload) {
  return EncodeEventMessage({{":event-type", std::string(type)},
                             {":content-type", ContentType(encoding)},
                             {":message-type", "event"}},
                            payload);
}

std::string ExceptionEvent(Encoding encoding, const ApiError& error) {
  Writer w(encoding);
  w.BeginObject();
  w.Key("message");
  w.String(error.message);
  w.EndObject();
  return EncodeEventMessage({{":exception-type", error.type},
                             {":content-type", ContentType(encoding)},
                             {":message-type", "exception"}},
                            w.body());
}

int64_t SteadyMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

struct Service::Subscription {
  std::string key;  // consumer ARN and shard
  std::string consumer_arn;
  std::string stream;
  uint64_t shard_index = 0;
  Encoding encoding = Encoding::kJson;
  int64_t started_ms = 0;
  ShardIterator start;
  std::shared_ptr<BodyStream> body;
  std::unique_ptr<ChangeWatch> watch;
  std::unique_ptr<ShardCursor> cursor;

  std::mutex mu;
  std::condition_variable wake;
  bool stop = false;                   // guarded by mu
  std::optional<ApiError> stop_error;  // guarded by mu: sent as an exception event

  void Stop(std::optional<ApiError> error) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stop) return;
      stop = true;
      stop_error = std::move(error);
    }
    wake.notify_all();
  }
  bool stopped() {
    std::lock_guard<std::mutex> lock(mu);
    return stop;
  }
  // Sleeps up to ms; false if stopped meanwhile.
  bool Sleep(int64_t ms) {
    std::unique_lock<std::mutex> lock(mu);
    return !wake.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stop; });
  }
};

ApiStatus Service::SubscribeWithoutStream(const Value&, Writer&) {
  // What the service answers to an HTTP/1.1 SubscribeToShard is not
  // documented; the SDKs only send it over HTTP/2.
  return ApiError::InvalidArgument(
      "SubscribeToShard needs HTTP/2: its answer is an event stream (use an HTTP/2 client, "
      "e.g. the AWS SDK for Java v2 or JavaScript v3)");
}

ApiOr<std::shared_ptr<BodyStream>> Service::SubscribeToShard(const Value& req, Encoding encoding) {
  if (req.kind != Value::Kind::kObject)
    return ApiError::Serialization("The request body must be an object");
  API_ASSIGN_OR_RETURN(auto arn, RequiredString(req, "ConsumerARN", 1, 2048));
  API_ASSIGN_OR_RETURN(auto shard_id, RequiredString(req, "ShardId", 1, 128));
  API_ASSIGN_OR_RETURN(const Value* position,
                       Member(req, "StartingPosition", Value::Kind::kObject));
  if (!position) return ConstraintError("null", "startingPosition", "not be null");
  API_ASSIGN_OR_RETURN(auto type_text, RequiredString(*position, "Type", 1, 32));
  API_ASSIGN_OR_RETURN(auto seq_text, OptionalString(*position, "SequenceNumber", 1, 129));
  API_ASSIGN_OR_RETURN(auto timestamp, OptionalTimestamp(*position, "Timestamp", encoding));
  Value by_arn;
  by_arn.kind = Value::Kind::kObject;
  by_arn.members.emplace_back("ConsumerARN", *req.Find("ConsumerARN"));
  API_ASSIGN_OR_RETURN(FoundConsumer found, FindConsumer(by_arn));
  if (found.consumer.deleting_ms)
    return ApiError::InUse("Consumer " + std::string(arn) + " under account " + options_.account +
                           " is not ACTIVE.");
  API_ASSIGN_OR_RETURN(ShardIterator start,
                       StartIterator(found.stream, shard_id, type_text, "startingPosition.type",
                                     seq_text, timestamp));

  auto sub = std::make_shared<Subscription>();
  sub->consumer_arn = std::string(arn);
  sub->stream = found.stream;
  sub->shard_index = start.shard_index;
  sub->key = sub->consumer_arn + " " + ShardIdFor(start.shard_index);
  sub->encoding = encoding;
  sub->started_ms = Now();
  sub->start = start;
  // Watch before the cursor reads: no change is missed.
  auto watch = backend_->Watch(found.stream);
  if (!watch.ok())
    return ApiError::LimitExceeded("Cannot watch stream " + found.stream +
                                   " for a subscription: " + watch.status().message());
  sub->watch = std::move(watch).value();
  auto cursor = backend_->OpenCursor(found.stream, start.shard_index, StartOf(start));
  if (!cursor.ok()) return StoreError(cursor.status(), found.stream);
  sub->cursor = std::move(cursor).value();
  sub->body = std::make_shared<BodyStream>();

  std::shared_ptr<Subscription> replaced;
  {
    std::lock_guard<std::mutex> lock(subscriptions_mu_);
    if (subscriptions_ended_)
      return ApiError{"InternalFailure", "The server is shutting down", 500};
    auto it = subscriptions_.find(sub->key);
    // One whose reader has gone is ending (its thread sees it at once).
    if (it != subscriptions_.end() && !it->second->body->cancelled()) {
      if (sub->started_ms - it->second->started_ms < kTakeoverAfterMs)
        return ApiError::InUse("Another active subscription exists for consumer " +
                               sub->consumer_arn + " and shard " + ShardIdFor(sub->shard_index) +
                               "; retry after 5 seconds.");
      replaced = it->second;
    } else if (subscription_threads_ >= kMaxSubscriptions) {
      return ApiError::LimitExceeded("kstream-serve runs at most " +
                                     std::to_string(kMaxSubscriptions) +
                                     " SubscribeToShard calls at once.");
    }
    try {
      std::thread([this, sub] { RunSubscription(sub); }).detach();
    } catch (const std::system_error&) {
      return ApiError::LimitExceeded("No thread for another subscription");
    }
    ++subscription_threads_;
    subscriptions_[sub->key] = sub;
  }
  if (replaced)
    replaced->Stop(ApiError::InUse("Another subscription of consumer " + sub->consumer_arn +
                                   " to shard " + ShardIdFor(sub->shard_index) + " took over."));
  return sub->body;
}

void Service::RunSubscription(const std::shared_ptr<Subscription>& sub) {
  const Encoding encoding = sub->encoding;
  const auto give_up = [&] { return sub->stopped(); };
  const int64_t end_at = SteadyMillis() + options_.subscription_ms;
  const int64_t rate = std::max<int64_t>(1, options_.subscription_bytes_per_second);
  int64_t budget = rate;  // a token bucket of one second's bytes
  int64_t refilled_at = SteadyMillis();
  // The continuation: every record up to this counter was sent (known at
  // once unless the start is a timestamp with nothing read yet).
  uint64_t counter = sub->start.kind == ShardIterator::Kind::kAfter ? sub->start.counter : 0;
  bool counter_known = sub->start.kind != ShardIterator::Kind::kAtTimestamp;
  int64_t last_event = -1;
  std::optional<ApiError> failure;

  {
    Writer initial(encoding);
    initial.BeginObject();
    initial.EndObject();
    if (!sub->body->Write(Event(encoding, "initial-response", initial.body()), give_up))
      sub->Stop({});
  }
  RecordBatch batch;
  while (!sub->stopped() && !sub->body->cancelled()) {
    const int64_t now = SteadyMillis();
    if (now >= end_at) break;  // the subscription's lifetime: a clean end
    budget = std::min(rate, budget + (now - refilled_at) * rate / 1000);
    refilled_at = now;
    if (budget <= 0) {
      if (!sub->Sleep(std::max<int64_t>(1, -budget * 1000 / rate + 1))) break;
      continue;
    }
    batch.Clear();
    auto state = sub->cursor->Read(batch, kMaxEventRecords,
                                   size_t(std::min<int64_t>(budget, kMaxEventBytes)));
    if (!state.ok()) {
      failure = StoreError(state.status(), sub->stream);
      break;
    }
    budget -= int64_t(batch.bytes());
    if (!batch.empty()) {
      counter = *SequenceCounter(batch[batch.size() - 1].sequence);  // the local layout
      counter_known = true;
    }
    const bool shard_end = *state == ShardCursor::State::kShardEnd;
    if (!counter_known) {
      // AT_TIMESTAMP with every record older: continue after the newest.
      auto stats = backend_->GetShardStats(sub->stream, sub->shard_index);
      if (!stats.ok()) {
        failure = StoreError(stats.status(), sub->stream);
        break;
      }
      counter = stats->last_sequence ? SequenceCounter(*stats->last_sequence).value_or(0) : 0;
      counter_known = true;
    }
    if (!batch.empty() || shard_end || last_event < 0 || now - last_event >= kHeartbeatMs) {
      StreamMeta meta;
      if (shard_end) {
        auto m = backend_->ListShards(sub->stream);
        if (!m.ok()) {
          failure = StoreError(m.status(), sub->stream);
          break;
        }
        meta = std::move(m).value();
      }
      const int64_t wall = Now();
      Writer w(encoding);
      w.BeginObject();
      w.Key("Records");
      w.BeginArray();
      for (size_t i = 0; i < batch.size(); ++i) WriteRecord(w, batch[i]);
      w.EndArray();
      if (!shard_end) {  // null at a closed shard's end: the KCL's SHARD_END
        w.Key("ContinuationSequenceNumber");
        w.String(ToDecimal(MakeSequenceNumber(sub->shard_index, counter)));
      }
      w.Key("MillisBehindLatest");
      w.Int(*state == ShardCursor::State::kMore && !batch.empty()
                ? std::max<int64_t>(0, wall - batch[batch.size() - 1].arrival_ms)
                : 0);
      if (shard_end) WriteChildShards(w, meta, sub->shard_index);
      w.EndObject();
      if (!sub->body->Write(Event(encoding, "SubscribeToShardEvent", w.body()), give_up)) break;
      last_event = now;
    }
    if (shard_end) break;
    if (*state == ShardCursor::State::kCaughtUp) {
      const int64_t left = end_at - SteadyMillis();
      Status s = sub->watch->Wait(int(std::clamp<int64_t>(left, 0, kWatchSliceMs)));
      if (!s.ok()) {
        failure = StoreError(s, sub->stream);
        break;
      }
    }
  }

  {
    std::lock_guard<std::mutex> lock(sub->mu);
    if (!failure && sub->stop_error) failure = sub->stop_error;
  }
  if (failure) (void)sub->body->Write(ExceptionEvent(encoding, *failure), give_up);
  sub->body->Finish();
  sub->cursor.reset();  // before the count drops: the Service may be destroyed right after
  sub->watch.reset();
  std::lock_guard<std::mutex> lock(subscriptions_mu_);
  auto it = subscriptions_.find(sub->key);
  if (it != subscriptions_.end() && it->second == sub) subscriptions_.erase(it);
  --subscription_threads_;
  subscriptions_done_.notify_all();
}

void Service::StopSubscriptions(const std::string& stream, const std::string& consumer_arn,
                                const ApiError& error) {
  std::vector<std::shared_ptr<Subscription>> doomed;
  {
    std::lock_guard<std::mutex> lock(subscriptions_mu_);
    for (auto& [key, sub] : subscriptions_)
      if (sub->stream == stream && (consumer_arn.empty() || sub->consumer_arn == consumer_arn))
        doomed.push_back(sub);
  }
  for (auto& sub : doomed) sub->Stop(error);
}

void Service::EndSubscriptions() {
  std::vector<std::shared_ptr<Subscription>> all;
  {
    std::lock_guard<std::mutex> lock(subscriptions_mu_);
    subscriptions_ended_ = true;
    for (auto& [key, sub] : subscriptions_) all.push_back(sub);
  }
  for (auto& sub : all) sub->Stop({});  // a clean end: the client resubscribes elsewhere
}

}  // namespace kstream::serve
