// lib/remote's cursor: reading ahead per shard (calls of several shards
// overlap), no record lost or reordered across pages and iterator renewals,
// no call for a caught-up shard until its reader asks, a prompt close, and
// errors that end the cursor. Against a scripted Kinesis on loopback HTTP.
#include <doctest/doctest.h>
#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/text.h"
#include "remote/remote_internal.h"

using namespace kstream;
using namespace kstream::remote;

namespace {

// Shards of records "s<shard>-<n>" with sequence numbers 1000000 + n.
// Iterators are "<shard>:<position>". GetRecords can be slowed, made to
// fail, or to answer ExpiredIteratorException once.
class ScriptedShards {
 public:
  explicit ScriptedShards(int shards, int records_each) {
    for (int s = 0; s < shards; ++s)
      for (int n = 0; n < records_each; ++n) Append(s);
    server_.Post("/", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string op = req.get_header_value("X-Amz-Target").substr(17);
      simdjson::dom::parser parser;
      simdjson::dom::element body;
      REQUIRE(!parser.parse(req.body).get(body));
      if (op == "GetShardIterator") return GetShardIterator(body, res);
      if (op == "GetRecords") return GetRecords(body, res);
      res.status = 400;
      res.set_content(R"({"__type":"UnknownOperationException"})", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~ScriptedShards() {
    server_.stop();
    thread_.join();
  }

  ClientConfig Config() const {
    auto config = ConfigureClient("http://127.0.0.1:" + std::to_string(port_),
                                  [](const char*) { return std::optional<std::string>(); });
    REQUIRE(config.ok());
    config->retry.base_ms = 1;
    config->retry.cap_ms = 5;
    return *config;
  }

  void Append(int shard) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& records = records_[shard];
    records.push_back("s" + std::to_string(shard) + "-" + std::to_string(records.size()));
  }
  void set_delay_ms(int ms) { delay_ms_ = ms; }
  void ExpireOnCall(int call) { expire_on_call_ = call; }
  void FailWith(std::string type) { fail_type_ = std::move(type); }
  int get_records_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  int max_in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_;
  }
  int64_t max_limit() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_limit_;
  }

 private:
  void Error(httplib::Response& res, const std::string& type) {
    res.status = 400;
    res.set_content(R"({"__type":")" + type + R"(","message":"scripted"})", "application/json");
  }

  void GetShardIterator(simdjson::dom::element body, httplib::Response& res) {
    std::string_view shard_id, type, after;
    REQUIRE(!body["ShardId"].get(shard_id));
    REQUIRE(!body["ShardIteratorType"].get(type));
    const uint64_t shard = ParseShardId(shard_id).value();
    size_t position = 0;
    if (type == "AFTER_SEQUENCE_NUMBER") {
      REQUIRE(!body["StartingSequenceNumber"].get(after));
      position = std::stoul(std::string(after)) - 1000000 + 1;
    } else {
      REQUIRE(type == "TRIM_HORIZON");
    }
    res.set_content(
        R"({"ShardIterator":")" + std::to_string(shard) + ":" + std::to_string(position) + "\"}",
        "application/json");
  }

  void GetRecords(simdjson::dom::element body, httplib::Response& res) {
    std::string_view iterator;
    int64_t limit = 0;
    REQUIRE(!body["ShardIterator"].get(iterator));
    REQUIRE(!body["Limit"].get(limit));
    int call;
    {
      std::lock_guard<std::mutex> lock(mu_);
      call = ++calls_;
      max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
      max_limit_ = std::max(max_limit_, limit);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    if (!fail_type_.empty()) return Error(res, fail_type_);
    if (call == expire_on_call_) return Error(res, "ExpiredIteratorException");
    const std::string text(iterator);
    const int shard = std::stoi(text.substr(0, text.find(':')));
    size_t position = std::stoul(text.substr(text.find(':') + 1));
    const auto& records = records_[shard];
    std::string out = R"({"Records":[)";
    const size_t end = std::min(records.size(), position + size_t(limit));
    for (size_t i = position; i < end; ++i) {
      out += i > position ? "," : "";
      out += R"({"SequenceNumber":")" + std::to_string(1000000 + i) +
             R"(","ApproximateArrivalTimestamp":1700000000.5,"PartitionKey":"k","Data":")";
      AppendBase64(out, records[i]);
      out += "\"}";
    }
    const int64_t behind = end < records.size() ? 5000 : 0;
    out += R"(],"NextShardIterator":")" + std::to_string(shard) + ":" + std::to_string(end) +
           R"(","MillisBehindLatest":)" + std::to_string(behind) + "}";
    res.set_content(out, "application/x-amz-json-1.1");
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<int, std::vector<std::string>> records_;
  int delay_ms_ = 0;
  int expire_on_call_ = 0;
  std::string fail_type_;
  int calls_ = 0, in_flight_ = 0, max_in_flight_ = 0;
  int64_t max_limit_ = 0;
};

RemoteOptions NoPacing() {
  RemoteOptions options;
  options.min_read_interval_ms = 0;
  return options;
}

std::unique_ptr<ShardCursor> Open(const ScriptedShards& server, uint64_t shard,
                                  RemoteOptions options = NoPacing()) {
  auto cursor = OpenRemoteCursor(server.Config(), options, "s", shard, StartPosition{});
  REQUIRE(cursor.ok());
  return std::move(cursor).value();
}

// Reads the cursors round-robin, as kstream-get does, until every one is
// caught up; returns each shard's records in the order read.
std::vector<std::vector<std::string>> ReadRoundRobin(
    std::vector<std::unique_ptr<ShardCursor>>& cursors, size_t per_read) {
  std::vector<std::vector<std::string>> got(cursors.size());
  std::vector<bool> done(cursors.size(), false);
  while (std::count(done.begin(), done.end(), false) > 0) {
    for (size_t s = 0; s < cursors.size(); ++s) {
      if (done[s]) continue;
      RecordBatch batch;
      auto state = cursors[s]->Read(batch, per_read, 1 << 20);
      REQUIRE(state.ok());
      for (size_t i = 0; i < batch.size(); ++i) got[s].emplace_back(batch[i].data);
      done[s] = *state != ShardCursor::State::kMore;
    }
  }
  return got;
}

std::vector<std::string> Expected(int shard, int count) {
  std::vector<std::string> v;
  for (int n = 0; n < count; ++n)
    v.push_back("s" + std::to_string(shard) + "-" + std::to_string(n));
  return v;
}

}  // namespace

TEST_SUITE("remote_cursor") {
  TEST_CASE("ShardsAreReadAheadConcurrentlyWithNoRecordLostOrReordered") {
    ScriptedShards server(4, 25000);
    server.set_delay_ms(50);
    std::vector<std::unique_ptr<ShardCursor>> cursors;
    for (uint64_t s = 0; s < 4; ++s) cursors.push_back(Open(server, s));
    const auto got = ReadRoundRobin(cursors, 4096);
    for (int s = 0; s < 4; ++s) CHECK(got[s] == Expected(s, 25000));
    CHECK(server.max_limit() == 10000);  // read ahead in the service's largest pages
    // While the reader waited for one shard's answer, the others' read-ahead
    // calls were in flight: a serial reader never has two.
    CHECK(server.max_in_flight() >= 2);
  }

  TEST_CASE("AReaderTakingAFewRecordsDoesNotPullAFullPage") {
    ScriptedShards server(1, 1000);
    auto cursor = Open(server, 0);
    RecordBatch batch;
    auto state = cursor->Read(batch, 5, 1 << 20);
    REQUIRE(state.ok());
    CHECK(*state == ShardCursor::State::kMore);
    CHECK(batch.size() == 5);
    // The next read takes the page read ahead: at most 4 reads' worth.
    batch.Clear();
    state = cursor->Read(batch, 5, 1 << 20);
    REQUIRE(state.ok());
    CHECK(batch.size() == 5);
    CHECK(std::string(batch[4].data) == "s0-9");
    batch.Clear();
    for (int i = 0; i < 3; ++i) REQUIRE(cursor->Read(batch, 5, 1 << 20).ok());
    CHECK(batch.size() == 15);
    CHECK(std::string(batch[14].data) == "s0-24");
    CHECK(server.max_limit() == 20);
  }

  TEST_CASE("AReadWithLittleRoomDoesNotShrinkThePagesReadAhead") {
    ScriptedShards server(1, 5000);
    auto cursor = Open(server, 0);
    RecordBatch batch;
    REQUIRE(cursor->Read(batch, 500, 1 << 20).ok());  // a group worker's batch of 500
    REQUIRE(cursor->Read(batch, 3, 1 << 20).ok());    // then only 3 fit
    size_t reads = 2;
    for (;;) {
      auto state = cursor->Read(batch, 3, 1 << 20);
      REQUIRE(state.ok());
      ++reads;
      if (*state != ShardCursor::State::kMore) break;
      REQUIRE(reads < 3000);
    }
    CHECK(batch.size() == 5000);
    CHECK(std::string(batch[4999].data) == "s0-4999");
    CHECK(server.max_limit() == 2000);
    CHECK(server.get_records_calls() <= 5);  // 500, then pages of 2000
  }

  TEST_CASE("ACaughtUpShardIsAskedAgainOnlyWhenItsReaderReadsAgain") {
    ScriptedShards server(1, 10);
    auto cursor = Open(server, 0);
    RecordBatch batch;
    auto state = cursor->Read(batch, 4096, 1 << 20);
    REQUIRE(state.ok());
    CHECK(*state == ShardCursor::State::kCaughtUp);
    CHECK(batch.size() == 10);
    const int calls = server.get_records_calls();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(server.get_records_calls() == calls);  // no polling behind the reader's back

    for (int i = 0; i < 3; ++i) server.Append(0);
    batch.Clear();
    state = cursor->Read(batch, 4096, 1 << 20);
    REQUIRE(state.ok());
    CHECK(*state == ShardCursor::State::kCaughtUp);
    REQUIRE(batch.size() == 3);
    CHECK(std::string(batch[0].data) == "s0-10");
    CHECK(std::string(batch[2].data) == "s0-12");
    CHECK(server.get_records_calls() == calls + 1);
  }

  TEST_CASE("AnExpiredIteratorIsRenewedAfterTheLastRecordFetched") {
    ScriptedShards server(2, 30000);
    server.ExpireOnCall(3);  // a read-ahead call, with pages waiting unread
    std::vector<std::unique_ptr<ShardCursor>> cursors;
    for (uint64_t s = 0; s < 2; ++s) cursors.push_back(Open(server, s));
    const auto got = ReadRoundRobin(cursors, 3000);
    for (int s = 0; s < 2; ++s) CHECK(got[s] == Expected(s, 30000));
  }

  TEST_CASE("AnErrorEndsTheCursorAndNamesTheShard") {
    ScriptedShards server(3, 10);
    server.FailWith("AccessDeniedException");
    auto cursor = Open(server, 2);
    RecordBatch batch;
    auto state = cursor->Read(batch, 100, 1 << 20);
    REQUIRE(!state.ok());
    CHECK(state.status().message().find("shardId-000000000002") != std::string::npos);
    CHECK(state.status().message().find("AccessDeniedException") != std::string::npos);
    state = cursor->Read(batch, 100, 1 << 20);
    CHECK(!state.ok());
    CHECK(batch.empty());
  }

  TEST_CASE("ClosingACursorStopsItsPacedReadAhead") {
    ScriptedShards server(1, 100);
    RemoteOptions options;
    options.min_read_interval_ms = 10 * 60 * 1000;  // the read-ahead would wait 10 minutes
    auto cursor = Open(server, 0, options);
    RecordBatch batch;
    REQUIRE(cursor->Read(batch, 10, 1 << 20).ok());  // a full page: more to read ahead
    const int calls = server.get_records_calls();
    cursor.reset();  // returns at once: the fetcher's wait ends on close
    CHECK(server.get_records_calls() == calls);
  }
}
