// PutRecords with retries that keep each key's records in order: records wait
// in one queue in input order; a call takes them in order, at most 500
// records / 5 MiB, leaving out the shards over the KPL-style per-shard rate
// limit, and the records it failed go back to the front, still in order,
// before any later record of their shard is sent. So a later record of a key
// never overtakes an earlier one across calls. Within one call the service
// writes records in request order; per-shard throttling fails a shard's
// records from some point on, which keeps order too, but a record failing
// alone (InternalFailure) can be overtaken by a later record of its key in
// the same call. A record not in within the record TTL fails alone (as does
// a throttled one with fail-if-throttled); the others are still written.
#include <deque>
#include <map>
#include <set>

#include "core/clock.h"
#include "core/text.h"
#include "core/token_bucket.h"
#include "remote/remote_internal.h"

namespace kstream::remote {

namespace {

bool IsRetryableRecordError(std::string_view code) {
  return code == "ProvisionedThroughputExceededException" || code == "InternalFailure" ||
         code == "KMSThrottlingException" || code == "ServiceUnavailable";
}

class RemoteWriter final : public StreamWriter {
 public:
  RemoteWriter(const ClientConfig& config, std::string stream, StreamMeta shards)
      : client_(config), stream_(std::move(stream)), shards_(std::move(shards)) {}

  Status Put(std::span<const PutRecord> records, std::vector<PutResult>& results) override {
    results.assign(records.size(), PutResult{});
    record_errors_.clear();
    in_call_.assign(records.size(), false);
    last_error_.clear();
    const PutPolicy& policy = client_.config().put;
    const int64_t deadline = SteadyMillis() + policy.record_ttl_ms;
    std::deque<size_t> queue;
    for (size_t i = 0; i < records.size(); ++i) queue.push_back(i);
    int retry = 0;  // calls in a row that wrote nothing
    while (!queue.empty()) {
      const int64_t left = deadline - SteadyMillis();
      if (left <= 0) {
        for (size_t i : queue) Fail(i, Expired());
        break;
      }
      const int64_t wait = SelectCall(records, queue);
      if (sent_.empty()) {  // every shard in the queue is over its rate limit
        client_.sleep(int(std::min(wait, left)));
        continue;
      }
      BuildBody(records);
      ApiError error;
      Result<std::string> answer = client_.CallOnce("PutRecords", body_, error);
      std::vector<size_t> again;  // sent records to try again, in order
      if (!answer.ok()) {
        if (error.type == "ResourceNotFoundException")
          return StreamNotFound(client_.config().endpoint, stream_);
        if (!IsRetryableError(error)) return answer.status().Prefixed("PutRecords");
        last_error_ = error.type + ": " + error.message;
        const bool throttled = IsThrottling(error.type);
        if (throttled) counters_.throttles += sent_.size();
        for (size_t i : sent_) {
          if (throttled && policy.fail_if_throttled)
            Fail(i, last_error_);
          else
            again.push_back(i);
        }
      } else {
        KS_RETURN_IF_ERROR(TakeResults(*answer, results, again));
      }
      const bool wrote_some = answer.ok() && again.size() < sent_.size();
      Requeue(queue, again);
      if (again.empty()) {
        retry = 0;
        continue;
      }
      ++counters_.retries;
      // The rate limiter paces retries of a shard that took part of a call
      // (the KPL does not back off); a call that wrote nothing backs off.
      if (wrote_some) {
        retry = 0;
      } else {
        client_.sleep(
            int(std::min<int64_t>(BackoffMillis(client_.config().retry, retry++, client_.rng()),
                                  deadline - SteadyMillis())));
      }
    }
    if (relist_) Relist();
    return RecordErrorsStatus();
  }

  Status Sync() override { return Status::Ok(); }  // acknowledged means durable

 private:
  static bool IsThrottling(std::string_view code) {
    return code == "ProvisionedThroughputExceededException" || code == "ThrottlingException" ||
           code == "LimitExceededException" || code == "KMSThrottlingException";
  }

  void Fail(size_t index, std::string message) {
    record_errors_.push_back({index, std::move(message)});
  }

  std::string Expired() const {
    std::string m = "record TTL of " + FormatMillis(client_.config().put.record_ttl_ms) +
                    " expired (--record-ttl)";
    return last_error_.empty() ? m + " while rate-limited (--rate-limit)"
                               : m + "; last error: " + last_error_;
  }

  static std::string FormatMillis(int64_t ms) {
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
  }

  // Picks the records of the next call: the queue in order, at most 500
  // records / 5 MiB, leaving out the shards over their rate limit. Once a
  // shard is left out, all its later records are too, so each shard's (and
  // so each key's) records still go in order. Returns how long until a
  // left-out shard has room again.
  int64_t SelectCall(std::span<const PutRecord> records, const std::deque<size_t>& queue) {
    sent_.clear();
    predicted_.clear();
    blocked_.clear();
    const int pct = client_.config().put.rate_limit_pct;
    const double record_rate = kShardRecordsPerSecond * pct / 100.0;
    const double byte_rate = kShardBytesPerSecond * pct / 100.0;
    const int64_t now = SteadyMillis();
    int64_t wait = 1000;
    size_t bytes = 0;
    for (size_t i : queue) {
      const PutRecord& r = records[i];
      const size_t size = r.partition_key.size() + r.data.size();
      if (sent_.size() == kMaxPutRecords || (!sent_.empty() && bytes + size > kMaxPutBytes)) break;
      const uint64_t shard = PredictShard(r);
      if (pct > 0) {
        if (blocked_.contains(shard)) continue;
        ShardLimiter& l = limiters_[shard];
        l.records.Refill(record_rate, now);
        l.bytes.Refill(byte_rate, now);
        if (l.records.tokens < 1 || l.bytes.tokens < std::min(double(size), byte_rate)) {
          blocked_.insert(shard);
          wait = std::min(wait, std::max(l.records.MillisUntil(record_rate, 1),
                                         l.bytes.MillisUntil(byte_rate, double(size))));
          continue;
        }
        l.records.tokens -= 1;
        l.bytes.tokens -= double(size);  // a record larger than the bucket overdraws it
      }
      sent_.push_back(i);
      predicted_.push_back(shard);
      in_call_[i] = true;
      bytes += size;
    }
    return std::max<int64_t>(wait, 1);
  }

  // The queue after a call: its records to retry first, then the rest.
  void Requeue(std::deque<size_t>& queue, const std::vector<size_t>& again) {
    std::deque<size_t> next(again.begin(), again.end());
    for (size_t i : queue)
      if (!in_call_[i]) next.push_back(i);
    for (size_t i : sent_) in_call_[i] = false;
    queue.swap(next);
  }

  uint64_t PredictShard(const PutRecord& r) const {
    const uint128 hash =
        r.explicit_hash_key ? *r.explicit_hash_key : HashPartitionKey(r.partition_key);
    const ShardMeta* shard = shards_.OpenShardFor(hash);
    return shard ? shard->index : kUnknownShard;
  }

  // After a reshard the predictions miss: the shard map is read again (a
  // failure keeps the old map; predictions only pace the writer).
  void Relist() {
    relist_ = false;
    auto shards = RemoteBackend(client_.config()).ListShards(stream_);
    if (shards.ok()) shards_ = std::move(*shards);
  }

  void BuildBody(std::span<const PutRecord> records) {
    body_ = BodyForStream(stream_) + ",\"Records\":[";
    for (size_t k = 0; k < sent_.size(); ++k) {
      const PutRecord& r = records[sent_[k]];
      if (k) body_ += ',';
      body_ += "{\"Data\":\"";
      AppendBase64(body_, r.data);
      body_ += "\",\"PartitionKey\":";
      AppendJsonString(body_, r.partition_key);
      if (r.explicit_hash_key)
        body_ += ",\"ExplicitHashKey\":\"" + ToDecimal(*r.explicit_hash_key) + "\"";
      body_ += '}';
    }
    body_ += "]}";
  }

  // Fills results for the records the call wrote; the retryable failures go
  // to `again` in order (or fail, throttled with fail-if-throttled), the
  // others fail.
  Status TakeResults(const std::string& answer, std::vector<PutResult>& results,
                     std::vector<size_t>& again) {
    simdjson::dom::element root;
    simdjson::dom::array entries;
    if (parser_.parse(answer).get(root) || root["Records"].get(entries) ||
        entries.size() != sent_.size())
      return Status::IOError("PutRecords: the answer does not have one entry per record");
    size_t k = 0;
    for (simdjson::dom::element e : entries) {
      const size_t index = sent_[k];
      const uint64_t predicted = predicted_[k++];
      std::string_view code, message, shard, seq;
      if (!e["ErrorCode"].get(code) && !code.empty()) {
        if (e["ErrorMessage"].get(message)) message = "";
        std::string error = std::string(code) + ": " + std::string(message);
        const bool throttled = IsThrottling(code);
        counters_.throttles += throttled;
        if (IsRetryableRecordError(code) &&
            !(throttled && client_.config().put.fail_if_throttled)) {
          last_error_ = std::move(error);
          again.push_back(index);
        } else {
          Fail(index, std::move(error));
        }
        continue;
      }
      if (e["ShardId"].get(shard) || e["SequenceNumber"].get(seq))
        return Status::IOError("PutRecords: an entry has neither ErrorCode nor ShardId");
      KS_ASSIGN_OR_RETURN(results[index].shard_index, ParseShardId(shard));
      KS_ASSIGN_OR_RETURN(results[index].sequence, SequenceNumber::Parse(seq, "SequenceNumber"));
      relist_ |= results[index].shard_index != predicted;
    }
    return Status::Ok();
  }

  static constexpr uint64_t kUnknownShard = UINT64_MAX;
  static constexpr double kShardRecordsPerSecond = 1000;
  static constexpr double kShardBytesPerSecond = 1 << 20;
  struct ShardLimiter {
    TokenBucket records, bytes;
  };

  KinesisClient client_;
  std::string stream_;
  StreamMeta shards_;
  bool relist_ = false;
  std::map<uint64_t, ShardLimiter> limiters_;
  // The call being made: the records (indexes into the Put) and the shard
  // predicted for each; in_call_ marks them by index.
  std::vector<size_t> sent_;
  std::vector<uint64_t> predicted_;
  std::vector<bool> in_call_;
  std::set<uint64_t> blocked_;
  std::string body_;
  std::string last_error_;
  simdjson::dom::parser parser_;
};

}  // namespace

std::unique_ptr<StreamWriter> MakeRemoteWriter(const ClientConfig& config, std::string stream,
                                               StreamMeta shards) {
  return std::make_unique<RemoteWriter>(config, std::move(stream), std::move(shards));
}

}  // namespace kstream::remote
