// Reading a shard through GetShardIterator / GetRecords, and the polling
// watch of a remote follower.
#include <poll.h>

#include <algorithm>

#include "core/clock.h"
#include "core/text.h"
#include "remote/remote_internal.h"

namespace kstream::remote {

namespace {

class RemoteCursor final : public ShardCursor {
 public:
  RemoteCursor(const ClientConfig& config, const RemoteOptions& options, std::string stream,
               uint64_t shard_index, const StartPosition& start)
      : client_(config),
        options_(options),
        stream_(std::move(stream)),
        shard_index_(shard_index),
        start_(start) {}

  // Gets the first iterator.
  Status Open() { return GetIterator(start_); }

  Result<State> Read(RecordBatch& batch, size_t max_records, size_t) override {
    if (ended_) return State::kShardEnd;
    const size_t limit = std::clamp<size_t>(max_records, 1, kMaxGetRecords);
    std::string answer;
    for (int renewals = 0;; ++renewals) {
      Pace();
      const std::string body =
          "{\"ShardIterator\":\"" + iterator_ + "\",\"Limit\":" + std::to_string(limit) + "}";
      ApiError error;
      Result<std::string> r = client_.Call("GetRecords", body, &error);
      last_call_ms_ = SteadyMillis();
      if (r.ok()) {
        answer = std::move(r).value();
        break;
      }
      // An iterator lives 5 minutes: a reader that paused longer goes on
      // where it left off with a new one.
      if (error.type != "ExpiredIteratorException" || renewals >= 2) return Located(r.status());
      StartPosition resume = start_;
      if (last_seq_) resume = {IteratorType::kAfterSequenceNumber, *last_seq_, 0};
      KS_RETURN_IF_ERROR(GetIterator(resume));
    }
    return Decode(answer, batch, limit);
  }

  uint64_t shard_index() const override { return shard_index_; }
  uint64_t corrupt_records() const override { return 0; }

 private:
  Status Located(const Status& s) const {
    return s.Prefixed("stream '" + stream_ + "' " + ShardIdFor(shard_index_));
  }

  // At most one GetRecords per min_read_interval_ms for this shard (the
  // service allows 5 per second), and never in the millisecond its iterator
  // was made (kinesalite refuses an iterator not older than now).
  void Pace() {
    const int64_t wait = last_call_ms_ + options_.min_read_interval_ms - SteadyMillis();
    if (wait > 0) client_.sleep(int(wait));
  }

  Status GetIterator(const StartPosition& from) {
    std::string body = BodyForStream(stream_) + ",\"ShardId\":\"" + ShardIdFor(shard_index_) +
                       "\",\"ShardIteratorType\":\"" + std::string(IteratorTypeName(from.type)) +
                       "\"";
    if (from.type == IteratorType::kAtSequenceNumber ||
        from.type == IteratorType::kAfterSequenceNumber)
      body += ",\"StartingSequenceNumber\":\"" + ToDecimal(from.sequence) + "\"";
    if (from.type == IteratorType::kAtTimestamp) {
      body += ",\"Timestamp\":";
      AppendEpochSeconds(body, from.timestamp_ms);
    }
    body += "}";
    ApiError error;
    Result<std::string> r = client_.Call("GetShardIterator", body, &error);
    if (!r.ok() && error.type == "ResourceNotFoundException" &&
        error.message.find("hard") == std::string::npos)
      return StreamNotFound(client_.config().endpoint, stream_);
    if (!r.ok()) return Located(r.status());
    simdjson::dom::element root;
    std::string_view it;
    if (parser_.parse(*r).get(root) || root["ShardIterator"].get(it))
      return Status::IOError("GetShardIterator: the answer has no ShardIterator");
    iterator_ = std::string(it);
    // The next call waits a millisecond at least, not a whole read interval.
    last_call_ms_ = SteadyMillis() - options_.min_read_interval_ms + 2;
    return Status::Ok();
  }

  Result<State> Decode(const std::string& answer, RecordBatch& batch, size_t limit) {
    simdjson::dom::element root;
    simdjson::dom::array records;
    if (parser_.parse(answer).get(root) || root["Records"].get(records))
      return Status::IOError("GetRecords: the answer has no Records");
    size_t count = 0;
    for (simdjson::dom::element e : records) {
      std::string_view seq_text, key, data64;
      double arrival = 0;
      if (e["SequenceNumber"].get(seq_text) || e["PartitionKey"].get(key) ||
          e["Data"].get(data64) || e["ApproximateArrivalTimestamp"].get(arrival))
        return Status::IOError(
            "GetRecords: a record lacks SequenceNumber, PartitionKey, Data "
            "or ApproximateArrivalTimestamp");
      KS_ASSIGN_OR_RETURN(SequenceNumber seq, SequenceNumber::Parse(seq_text, "SequenceNumber"));
      if (!DecodeBase64(data64, data_))
        return Status::IOError("GetRecords: record " + std::string(seq_text) +
                               " has Data that is not base64");
      batch.Add(seq, int64_t(arrival * 1000 + 0.5), std::nullopt, key, data_);
      last_seq_ = seq;
      ++count;
    }
    std::string_view next;
    if (root["NextShardIterator"].get(next) || next.empty()) {
      ended_ = true;  // null: the shard is closed and read to its end
      return State::kShardEnd;
    }
    iterator_ = std::string(next);
    int64_t behind = 0;
    if (root["MillisBehindLatest"].get(behind)) behind = 0;
    return count >= limit || behind > 0 ? State::kMore : State::kCaughtUp;
  }

  KinesisClient client_;
  RemoteOptions options_;
  std::string stream_;
  uint64_t shard_index_;
  StartPosition start_;
  std::string iterator_;
  std::optional<SequenceNumber> last_seq_;
  int64_t last_call_ms_ = 0;
  bool ended_ = false;
  std::string data_;
  simdjson::dom::parser parser_;
};

// A follower polls: nothing tells it that records arrived.
class PollingWatch final : public ChangeWatch {
 public:
  explicit PollingWatch(int poll_ms) : poll_ms_(poll_ms) {}
  Status Wait(int timeout_ms) override {
    const int ms = timeout_ms < 0 ? poll_ms_ : std::min(timeout_ms, poll_ms_);
    ::poll(nullptr, 0, ms);  // a signal ends it early
    return Status::Ok();
  }

 private:
  int poll_ms_;
};

}  // namespace

Result<std::unique_ptr<ShardCursor>> OpenRemoteCursor(const ClientConfig& config,
                                                      const RemoteOptions& options,
                                                      std::string stream, uint64_t shard_index,
                                                      const StartPosition& start) {
  auto cursor =
      std::make_unique<RemoteCursor>(config, options, std::move(stream), shard_index, start);
  KS_RETURN_IF_ERROR(cursor->Open());
  return std::unique_ptr<ShardCursor>(std::move(cursor));
}

std::unique_ptr<ChangeWatch> MakePollingWatch(int poll_ms) {
  return std::make_unique<PollingWatch>(poll_ms);
}

}  // namespace kstream::remote
