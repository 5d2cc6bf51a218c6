// PutRecords with retries that keep each key's records in order: records wait
// in one queue in input order; a call takes a prefix of at most 500 records /
// 5 MiB, and the records it failed go back to the front, still in order,
// before any later record is sent. So a later record of a key never overtakes
// an earlier one across calls. Within one call the service writes records in
// request order; per-shard throttling fails a shard's records from some point
// on, which keeps order too, but a record failing alone (InternalFailure) can
// be overtaken by a later record of its key in the same call.
#include <deque>

#include "core/text.h"
#include "remote/remote_internal.h"

namespace kstream::remote {

namespace {

bool IsRetryableRecordError(std::string_view code) {
  return code == "ProvisionedThroughputExceededException" || code == "InternalFailure" ||
         code == "KMSThrottlingException" || code == "ServiceUnavailable";
}

class RemoteWriter final : public StreamWriter {
 public:
  RemoteWriter(const ClientConfig& config, std::string stream)
      : client_(config), stream_(std::move(stream)) {}

  Status Put(std::span<const PutRecord> records, std::vector<PutResult>& results) override {
    results.assign(records.size(), PutResult{});
    std::deque<size_t> queue;
    for (size_t i = 0; i < records.size(); ++i) queue.push_back(i);
    std::vector<int> tries(records.size(), 0);
    int retry = 0;  // calls in a row that left something to retry
    const RetryPolicy& policy = client_.config().retry;
    while (!queue.empty()) {
      const size_t count = BuildBody(records, queue);
      ApiError error;
      Result<std::string> answer = client_.CallOnce("PutRecords", body_, error);
      if (!answer.ok()) {
        if (error.type == "ResourceNotFoundException")
          return StreamNotFound(client_.config().endpoint, stream_);
        if (!IsRetryableError(error) || retry + 1 >= client_.config().put_attempts)
          return answer.status().Prefixed(RetryNote(retry));
        client_.sleep(BackoffMillis(policy, retry++, client_.rng()));
        continue;
      }
      std::vector<size_t> failed;
      KS_RETURN_IF_ERROR(TakeResults(*answer, queue, count, results, failed));
      queue.erase(queue.begin(), queue.begin() + ptrdiff_t(count));
      queue.insert(queue.begin(), failed.begin(), failed.end());
      if (failed.empty()) {
        retry = 0;
        continue;
      }
      for (size_t i : failed) {
        if (++tries[i] >= client_.config().put_attempts)
          return Status::LimitExceeded("PutRecords: record " + std::to_string(i + 1) +
                                       " of the batch was refused " + std::to_string(tries[i]) +
                                       " times (" + last_record_error_ + ")");
      }
      client_.sleep(BackoffMillis(policy, retry++, client_.rng()));
    }
    return Status::Ok();
  }

  Status Sync() override { return Status::Ok(); }  // acknowledged means durable

 private:
  static std::string RetryNote(int retries) {
    return "PutRecords (after " + std::to_string(retries) + " retries)";
  }

  // The body for the longest prefix of the queue within the call's limits;
  // returns its length.
  size_t BuildBody(std::span<const PutRecord> records, const std::deque<size_t>& queue) {
    body_ = BodyForStream(stream_) + ",\"Records\":[";
    size_t count = 0, bytes = 0;
    for (size_t i : queue) {
      const PutRecord& r = records[i];
      const size_t size = r.partition_key.size() + r.data.size();
      if (count == kMaxPutRecords || (count > 0 && bytes + size > kMaxPutBytes)) break;
      if (count) body_ += ',';
      body_ += "{\"Data\":\"";
      AppendBase64(body_, r.data);
      body_ += "\",\"PartitionKey\":";
      AppendJsonString(body_, r.partition_key);
      if (r.explicit_hash_key)
        body_ += ",\"ExplicitHashKey\":\"" + ToDecimal(*r.explicit_hash_key) + "\"";
      body_ += '}';
      ++count;
      bytes += size;
    }
    body_ += "]}";
    return count;
  }

  // Fills results for the records the call wrote; the retryable failures go
  // to `failed` in order; any other failure ends the Put.
  Status TakeResults(const std::string& answer, const std::deque<size_t>& queue, size_t count,
                     std::vector<PutResult>& results, std::vector<size_t>& failed) {
    simdjson::dom::element root;
    simdjson::dom::array entries;
    if (parser_.parse(answer).get(root) || root["Records"].get(entries) || entries.size() != count)
      return Status::IOError("PutRecords: the answer does not have one entry per record");
    size_t k = 0;
    for (simdjson::dom::element e : entries) {
      const size_t index = queue[k++];
      std::string_view code, message, shard, seq;
      if (!e["ErrorCode"].get(code) && !code.empty()) {
        if (e["ErrorMessage"].get(message)) message = "";
        last_record_error_ = std::string(code) + ": " + std::string(message);
        if (!IsRetryableRecordError(code))
          return Status::InvalidArgument("PutRecords: record " + std::to_string(index + 1) +
                                         " of the batch was refused: " + last_record_error_);
        failed.push_back(index);
        continue;
      }
      if (e["ShardId"].get(shard) || e["SequenceNumber"].get(seq))
        return Status::IOError("PutRecords: an entry has neither ErrorCode nor ShardId");
      KS_ASSIGN_OR_RETURN(results[index].shard_index, ParseShardId(shard));
      KS_ASSIGN_OR_RETURN(results[index].sequence, SequenceNumber::Parse(seq, "SequenceNumber"));
    }
    return Status::Ok();
  }

  KinesisClient client_;
  std::string stream_;
  std::string body_;
  std::string last_record_error_;
  simdjson::dom::parser parser_;
};

}  // namespace

std::unique_ptr<StreamWriter> MakeRemoteWriter(const ClientConfig& config, std::string stream) {
  return std::make_unique<RemoteWriter>(config, std::move(stream));
}

}  // namespace kstream::remote
