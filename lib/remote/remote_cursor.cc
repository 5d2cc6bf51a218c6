// Reading a shard through GetShardIterator / GetRecords, and the polling
// watch of a remote follower.
//
// While a shard has a backlog, its cursor reads one page ahead on a thread
// of its own, as the KCL's prefetching publisher does: a reader that goes
// round several shards then waits for the slowest answer of a round, not
// for the sum of them, and each shard keeps to the service's 5 calls per
// second on its own. Once a shard is caught up, a call is made only when
// the reader asks (a finished or idle reader costs the shard nothing).
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

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
        start_(start) {
    // The fetcher's waits (pacing, backoff) end at once when the cursor closes.
    client_.sleep = [this](int ms) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return closing_; });
    };
  }

  ~RemoteCursor() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    if (fetcher_.joinable()) fetcher_.join();  // at most the call in flight
  }

  // Gets the first iterator (before the fetcher exists).
  Status Open() { return GetIterator(start_); }

  Result<State> Read(RecordBatch& batch, size_t max_records, size_t) override {
    if (taken_ == page_.records.size()) {
      if (!page_.status.ok()) return page_.status;
      if (page_.state == State::kShardEnd) return State::kShardEnd;
      // Used up, or it said "caught up" and the reader asks again: the next one.
      page_ = TakePage(max_records);
      taken_ = 0;
      if (!page_.status.ok()) return page_.status;
    }
    const size_t n = std::min(max_records, page_.records.size() - taken_);
    for (size_t i = 0; i < n; ++i) batch.Add(page_.records[taken_ + i]);
    taken_ += n;
    return taken_ < page_.records.size() ? State::kMore : page_.state;
  }

  uint64_t shard_index() const override { return shard_index_; }
  uint64_t corrupt_records() const override { return 0; }

 private:
  // One GetRecords answer, decoded.
  struct Page {
    Status status = Status::Ok();  // a failed call ends the cursor
    RecordBatch records;
    State state = State::kMore;  // of the shard after these records
  };

  // The next page: the one read ahead, else one fetched now (by the fetcher,
  // so only one thread ever uses the client). Blocks until it is there.
  Page TakePage(size_t max_records) {
    std::unique_lock<std::mutex> lock(mu_);
    // Reading ahead fetches up to 4 of the reader's largest reads: one taking
    // a few records (kstream-get -n 5) does not pull 10,000, and one whose
    // batch has little room left this time still gets full pages.
    largest_read_ = std::max(largest_read_, max_records);
    read_ahead_limit_ = std::clamp<size_t>(4 * largest_read_, 1, kMaxGetRecords);
    if (!ready_) {
      wanted_limit_ = std::clamp<size_t>(max_records, 1, kMaxGetRecords);
      if (!fetcher_.joinable()) fetcher_ = std::thread([this] { FetchLoop(); });
      cv_.notify_all();
      cv_.wait(lock, [this] { return ready_.has_value(); });
    }
    Page page = std::move(*ready_);
    ready_.reset();
    wanted_limit_ = 0;  // a page came, whichever call it was
    if (page.status.ok() && page.state == State::kMore) cv_.notify_all();  // read the next one
    return page;
  }

  void FetchLoop() {
    // Signals go to the reader's thread, whose blocking calls they interrupt.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::unique_lock<std::mutex> lock(mu_);
    for (bool first = true;; first = false) {
      // Fetch when asked, or ahead while the last page said there is more.
      cv_.wait(lock, [this] { return closing_ || (!ready_ && (wanted_limit_ || ahead_)); });
      if (closing_) return;
      // The first call takes what the first read asked for; later ones, full
      // pages (whatever room the reader's batch happens to have now).
      const size_t limit = first ? wanted_limit_ : read_ahead_limit_;
      wanted_limit_ = 0;
      lock.unlock();
      Page page = Fetch(limit);
      lock.lock();
      ahead_ = page.status.ok() && page.state == State::kMore;
      const bool last = !page.status.ok() || page.state == State::kShardEnd;
      ready_ = std::move(page);
      cv_.notify_all();
      if (last) return;
    }
  }

  Page Fetch(size_t limit) {
    Page page;
    std::string answer;
    for (int renewals = 0;; ++renewals) {
      Pace();
      if (Closing()) {
        page.status = Status::IOError("the cursor was closed");
        return page;
      }
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
      if (error.type != "ExpiredIteratorException" || renewals >= 2) {
        page.status = Located(r.status());
        return page;
      }
      StartPosition resume = start_;
      if (last_seq_) resume = {IteratorType::kAfterSequenceNumber, *last_seq_, 0};
      if (Status s = GetIterator(resume); !s.ok()) {
        page.status = s;
        return page;
      }
    }
    Result<State> state = Decode(answer, page.records, limit);
    if (state.ok()) {
      page.state = *state;
    } else {
      page.status = state.status();
      page.records.Clear();
    }
    return page;
  }

  bool Closing() {
    std::lock_guard<std::mutex> lock(mu_);
    return closing_;
  }

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
      // null: the shard is closed and read to its end
      return State::kShardEnd;
    }
    iterator_ = std::string(next);
    int64_t behind = 0;
    if (root["MillisBehindLatest"].get(behind)) behind = 0;
    return count >= limit || behind > 0 ? State::kMore : State::kCaughtUp;
  }

  // The fetcher's (after Open): the client and the shard's position.
  KinesisClient client_;
  RemoteOptions options_;
  std::string stream_;
  uint64_t shard_index_;
  StartPosition start_;
  std::string iterator_;
  std::optional<SequenceNumber> last_seq_;
  int64_t last_call_ms_ = 0;
  std::string data_;
  simdjson::dom::parser parser_;

  // The reader's: the page it takes records from.
  Page page_;
  size_t taken_ = 0;
  size_t largest_read_ = 0;

  // Shared, under mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Page> ready_;  // fetched, not taken yet
  size_t wanted_limit_ = 0;    // the reader waits for a page of up to this many
  size_t read_ahead_limit_ = kMaxGetRecords;
  bool ahead_ = false;  // the last page said there is more: read on
  bool closing_ = false;
  std::thread fetcher_;  // started by the first read
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
