// lib/remote: endpoint parsing, backoff, and the writer's KPL-style record
// handling (per-record retries in order, record TTL, fail-if-throttled, the
// per-shard rate limit) against a scripted Kinesis on real loopback HTTP.
#include <doctest/doctest.h>
#include <httplib.h>
#include <simdjson.h>

#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/text.h"
#include "remote/remote_internal.h"

using namespace kstream;
using namespace kstream::remote;

namespace {

// A Kinesis that answers PutRecords through `answer` (given the call's
// records, in order, by Data) and records every call. Listens on 127.0.0.1.
class ScriptedKinesis {
 public:
  using Answer = std::function<std::string(const std::vector<std::string>& records, int call)>;

  explicit ScriptedKinesis(Answer answer) : answer_(std::move(answer)) {
    server_.Post("/", [this](const httplib::Request& req, httplib::Response& res) {
      simdjson::dom::parser parser;
      simdjson::dom::element root;
      simdjson::dom::array records;
      REQUIRE(!parser.parse(req.body).get(root));
      std::vector<std::string> data;
      if (!root["Records"].get(records))
        for (simdjson::dom::element r : records) {
          std::string_view b64;
          std::string raw;
          REQUIRE(!r["Data"].get(b64));
          REQUIRE(DecodeBase64(b64, raw));
          data.push_back(raw);
        }
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(data);
      res.set_content(answer_(data, int(calls_.size())), "application/x-amz-json-1.1");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~ScriptedKinesis() {
    server_.stop();
    thread_.join();
  }

  ClientConfig Config(PutPolicy put) const {
    // No credentials: a loopback endpoint gets placeholder ones.
    auto config = ConfigureClient("http://127.0.0.1:" + std::to_string(port_),
                                  [](const char*) { return std::optional<std::string>(); });
    REQUIRE(config.ok());
    config->put = put;
    config->retry.base_ms = 1;
    config->retry.cap_ms = 5;
    return *config;
  }
  std::vector<std::vector<std::string>> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  Answer answer_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::vector<std::string>> calls_;
};

// One PutRecords result entry: written (sequence = the record's number) or
// refused with `code`.
std::string Entry(const std::string& data, const std::string& code = "") {
  if (!code.empty()) return R"({"ErrorCode":")" + code + R"(","ErrorMessage":"scripted"})";
  return R"({"ShardId":"shardId-000000000000","SequenceNumber":")" + data + "\"}";
}

std::string Answer(const std::vector<std::string>& entries) {
  std::string failed = "0", out = R"({"Records":[)";
  for (size_t i = 0; i < entries.size(); ++i) out += (i ? "," : "") + entries[i];
  return out + "],\"FailedRecordCount\":" + failed + "}";
}

StreamMeta OneShard() {
  StreamMeta meta;
  meta.name = "s";
  meta.shards.push_back(ShardMeta{});
  return meta;
}

struct Batch {
  std::vector<std::string> data;
  std::vector<PutRecord> records;
  explicit Batch(int n) {
    for (int i = 1; i <= n; ++i) data.push_back(std::to_string(i));
    for (const auto& d : data) records.push_back({"key", d, std::nullopt});
  }
};

}  // namespace

TEST_SUITE("remote") {
  TEST_CASE("EndpointsParseAndRefuseWhatIsNotAnEndpoint") {
    auto e = ParseEndpoint("https://kinesis.eu-west-1.amazonaws.com");
    REQUIRE(e.ok());
    CHECK(e->port == 443);
    CHECK(e->HostHeader() == "kinesis.eu-west-1.amazonaws.com");
    CHECK(!e->IsLoopback());
    e = ParseEndpoint("http://127.0.0.1:4567/");
    REQUIRE(e.ok());
    CHECK(e->HostHeader() == "127.0.0.1:4567");
    CHECK(e->IsLoopback());
    CHECK(!ParseEndpoint("ftp://x").ok());
    CHECK(!ParseEndpoint("http://x/path").ok());
    CHECK(!ParseEndpoint("http://x:99999").ok());
  }

  TEST_CASE("BackoffIsFullJitterUnderTheCap") {
    RetryPolicy policy;
    std::mt19937_64 rng(7);
    for (int retry = 0; retry < 20; ++retry)
      for (int i = 0; i < 50; ++i) {
        const int ms = BackoffMillis(policy, retry, rng);
        CHECK(ms >= 0);
        CHECK(ms <= std::min(policy.cap_ms, policy.base_ms << std::min(retry, 20)));
      }
  }

  TEST_CASE("RefusedRecordsAreRetriedInOrderAndRefusalsThatCannotPassFailAlone") {
    // Call 1: record 2 throttled, record 4 refused for good; the others in.
    ScriptedKinesis kinesis([](const std::vector<std::string>& recs, int call) {
      std::vector<std::string> entries;
      for (const auto& d : recs) {
        std::string code;
        if (call == 1 && d == "2") code = "ProvisionedThroughputExceededException";
        if (d == "4") code = "KMSAccessDeniedException";
        entries.push_back(Entry(d, code));
      }
      return Answer(entries);
    });
    auto writer = MakeRemoteWriter(kinesis.Config({}), "s", OneShard());
    writer->AllowRecordErrors();
    Batch b(5);
    std::vector<PutResult> results;
    REQUIRE(writer->Put(b.records, results).ok());
    REQUIRE(writer->record_errors().size() == 1);
    CHECK(writer->record_errors()[0].index == 3);
    CHECK(writer->record_errors()[0].message.find("KMSAccessDeniedException") != std::string::npos);
    for (int i : {0, 1, 2, 4}) CHECK(ToDecimal(results[size_t(i)].sequence) == b.data[size_t(i)]);
    const auto calls = kinesis.calls();
    REQUIRE(calls.size() == 2);
    CHECK(calls[1] == std::vector<std::string>{"2"});  // only the throttled one again
    CHECK(writer->counters().throttles == 1);
    CHECK(writer->counters().retries == 1);
  }

  TEST_CASE("ARecordStillThrottledAfterItsTtlFailsWithTheLastError") {
    ScriptedKinesis kinesis([](const std::vector<std::string>& recs, int) {
      std::vector<std::string> entries;
      for (const auto& d : recs)
        entries.push_back(Entry(d, d == "1" ? "" : "ProvisionedThroughputExceededException"));
      return Answer(entries);
    });
    auto writer = MakeRemoteWriter(kinesis.Config({.rate_limit_pct = 0, .record_ttl_ms = 150}), "s",
                                   OneShard());
    writer->AllowRecordErrors();
    Batch b(3);
    std::vector<PutResult> results;
    REQUIRE(writer->Put(b.records, results).ok());
    REQUIRE(writer->record_errors().size() == 2);
    CHECK(writer->record_errors()[0].index == 1);
    CHECK(writer->record_errors()[1].index == 2);
    const std::string& m = writer->record_errors()[0].message;
    CHECK(m.find("record TTL of 150ms expired") != std::string::npos);
    CHECK(m.find("ProvisionedThroughputExceededException") != std::string::npos);
    CHECK(ToDecimal(results[0].sequence) == "1");
    CHECK(kinesis.calls().size() >= 2);  // retried until the TTL ran out
  }

  TEST_CASE("AWriterWhoseCallerCannotTakeRecordErrorsFailsThePut") {
    ScriptedKinesis kinesis([](const std::vector<std::string>& recs, int) {
      std::vector<std::string> entries;
      for (const auto& d : recs)
        entries.push_back(Entry(d, d == "2" ? "KMSAccessDeniedException" : ""));
      return Answer(entries);
    });
    auto writer = MakeRemoteWriter(kinesis.Config({}), "s", OneShard());
    Batch b(3);
    std::vector<PutResult> results;
    const Status s = writer->Put(b.records, results);
    REQUIRE(!s.ok());
    CHECK(s.message().find("1 record(s) of the batch were not written") != std::string::npos);
    CHECK(s.message().find("KMSAccessDeniedException") != std::string::npos);
  }

  TEST_CASE("FailIfThrottledGivesUpAtTheFirstThrottle") {
    ScriptedKinesis kinesis([](const std::vector<std::string>& recs, int) {
      std::vector<std::string> entries;
      for (const auto& d : recs)
        entries.push_back(Entry(d, d == "2" ? "ProvisionedThroughputExceededException" : ""));
      return Answer(entries);
    });
    auto writer = MakeRemoteWriter(kinesis.Config({.rate_limit_pct = 0, .fail_if_throttled = true}),
                                   "s", OneShard());
    writer->AllowRecordErrors();
    Batch b(3);
    std::vector<PutResult> results;
    REQUIRE(writer->Put(b.records, results).ok());
    REQUIRE(writer->record_errors().size() == 1);
    CHECK(writer->record_errors()[0].index == 1);
    CHECK(kinesis.calls().size() == 1);
    CHECK(writer->counters().retries == 0);
  }

  TEST_CASE("TheRateLimitHoldsAShardToItsShareOfTheLimits") {
    // 20% of 1,000 records/s: a bucket of 200 records, refilled at 200/s. The
    // first call can only carry the full bucket; the rest follow as it refills.
    ScriptedKinesis kinesis([](const std::vector<std::string>& recs, int) {
      std::vector<std::string> entries;
      for (const auto& d : recs) entries.push_back(Entry(d));
      return Answer(entries);
    });
    auto writer = MakeRemoteWriter(kinesis.Config({.rate_limit_pct = 20}), "s", OneShard());
    writer->AllowRecordErrors();
    Batch b(300);
    std::vector<PutResult> results;
    REQUIRE(writer->Put(b.records, results).ok());
    CHECK(writer->record_errors().empty());
    const auto calls = kinesis.calls();
    REQUIRE(calls.size() >= 2);
    CHECK(calls[0].size() == 200);
    std::vector<std::string> all;
    for (const auto& c : calls) all.insert(all.end(), c.begin(), c.end());
    CHECK(all == b.data);  // in order, each once
  }
}
