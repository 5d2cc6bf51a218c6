// kinesis_load: a load client for the Kinesis JSON 1.1 API, so servers
// (kstream-serve, kinesalite, kinesis-local) are measured with one client
// that costs little per record. scripts/bench-serve runs it beside the AWS
// SDK for JavaScript, doing the same work in the same shape:
//
//   kinesis_load URL STREAM create [...]            (re)creates STREAM, 4 shards
//   kinesis_load URL STREAM put COUNT INFLIGHT      PutRecords of 500 x 100 bytes
//   kinesis_load URL STREAM get COUNT INFLIGHT [SHARD...]
//       one GetRecords chain (Limit 10000) per shard, the 4 first by default;
//       INFLIGHT is not used (the chains are the requests in flight)
//
// The arguments are those of the benchmark's JavaScript client (client.mjs).
//
// Every request is SigV4-signed, every put record's Data base64-encoded and
// every got record's Data decoded, as an SDK does. Prints
// "records failed start_ms end_ms client_cpu_s": the time from the first
// request to the last answer, and the process's CPU time over that span.
#include <simdjson.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/text.h"
#include "remote/kinesis_client.h"

using namespace kstream;

namespace {

constexpr int kPutBatch = 500;
constexpr int kRecordBytes = 100;

int64_t WallMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Ends the process at once: exit() would run static destructors while other
// workers still use what they destroy (a crash, "pure virtual method called").
[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "kinesis_load: error: %s\n", what.c_str());
  std::fflush(nullptr);
  std::_Exit(1);
}

// A failure in one worker ends the run: a partial figure is not a figure.
std::string CallOrDie(remote::KinesisClient& client, std::string_view op, const std::string& body) {
  Result<std::string> r = client.Call(op, body);
  if (!r.ok()) Die(std::string(op) + ": " + r.status().message());
  return std::move(r).value();
}

std::string StreamBody(const std::string& stream) {
  std::string body = "{\"StreamName\":";
  AppendJsonString(body, stream);
  return body;
}

void Create(const remote::ClientConfig& config, const std::string& stream) {
  remote::KinesisClient client(config);
  (void)client.Call("DeleteStream", StreamBody(stream) + "}");
  // Emulators delete and create asynchronously.
  for (int tries = 0;; ++tries) {
    remote::ApiError error;
    if (client.Call("CreateStream", StreamBody(stream) + ",\"ShardCount\":4}", &error).ok()) break;
    if (error.type != "ResourceInUseException" || tries > 600)
      Die("CreateStream: " + error.message);
    usleep(50'000);
  }
  simdjson::dom::parser parser;
  for (int tries = 0;; ++tries) {
    const std::string answer = CallOrDie(client, "DescribeStreamSummary", StreamBody(stream) + "}");
    std::string_view status;
    if (!parser.parse(answer)["StreamDescriptionSummary"]["StreamStatus"].get(status) &&
        status == "ACTIVE")
      break;
    if (tries > 600) Die("the stream did not become ACTIVE");
    usleep(50'000);
  }
}

// INFLIGHT workers, one connection each, take batches of 500 from a shared
// counter until COUNT records are in; returns the records the server failed.
int64_t Put(const remote::ClientConfig& config, const std::string& stream, int64_t count,
            int inflight) {
  const std::string payload(kRecordBytes, 'x');
  const std::string key_prefix = "k" + std::to_string(getpid()) + "-";
  std::atomic<int64_t> next{0}, failed{0};
  auto worker = [&] {
    remote::KinesisClient client(config);
    simdjson::dom::parser parser;
    std::string body;
    for (;;) {
      const int64_t first = next.fetch_add(kPutBatch);
      if (first >= count) return;
      const int64_t n = std::min<int64_t>(kPutBatch, count - first);
      body = StreamBody(stream) + ",\"Records\":[";
      for (int64_t i = 0; i < n; ++i) {
        if (i) body += ',';
        body += "{\"Data\":\"";
        AppendBase64(body, payload);
        body += "\",\"PartitionKey\":\"" + key_prefix + std::to_string(first + i) + "\"}";
      }
      body += "]}";
      const std::string answer = CallOrDie(client, "PutRecords", body);
      int64_t failed_here = 0;
      simdjson::dom::array entries;
      simdjson::dom::element root;
      if (parser.parse(answer).get(root) || root["Records"].get(entries) ||
          int64_t(entries.size()) != n)
        Die("PutRecords: the answer does not have one entry per record");
      if (root["FailedRecordCount"].get(failed_here)) failed_here = 0;
      failed += failed_here;
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < inflight; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return failed.load();
}

// One chain per shard from TRIM_HORIZON until COUNT records in all or a
// shard answers with none; returns the records read.
int64_t Get(const remote::ClientConfig& config, const std::string& stream, int64_t count,
            const std::vector<std::string>& shards) {
  std::atomic<int64_t> got{0};
  auto chain = [&](const std::string& shard) {
    remote::KinesisClient client(config);
    simdjson::dom::parser parser;
    std::string body = StreamBody(stream) + ",\"ShardId\":";
    AppendJsonString(body, shard);
    body += ",\"ShardIteratorType\":\"TRIM_HORIZON\"}";
    std::string_view view;
    std::string answer = CallOrDie(client, "GetShardIterator", body);
    if (parser.parse(answer)["ShardIterator"].get(view)) Die("GetShardIterator: no ShardIterator");
    std::string iterator(view);
    std::string data;
    while (!iterator.empty() && got.load() < count) {
      answer = CallOrDie(client, "GetRecords",
                         "{\"ShardIterator\":\"" + iterator + "\",\"Limit\":10000}");
      simdjson::dom::element root;
      simdjson::dom::array records;
      if (parser.parse(answer).get(root) || root["Records"].get(records))
        Die("GetRecords: the answer has no Records");
      int64_t n = 0;
      for (simdjson::dom::element r : records) {
        std::string_view data64;
        if (r["Data"].get(data64) || !DecodeBase64(data64, data) ||
            data.size() != size_t(kRecordBytes))
          Die("GetRecords: a record's Data is not 100 bytes of base64");
        ++n;
      }
      if (n == 0) break;
      got += n;
      iterator.clear();
      if (!root["NextShardIterator"].get(view)) iterator = std::string(view);
    }
  };
  std::vector<std::thread> threads;
  for (const std::string& shard : shards) threads.emplace_back(chain, shard);
  for (auto& t : threads) t.join();
  return got.load();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: kinesis_load URL STREAM create | put COUNT INFLIGHT | get COUNT "
                 "INFLIGHT [SHARD...]\n");
    return 2;
  }
  const std::string url = argv[1], stream = argv[2], mode = argv[3];
  Result<remote::ClientConfig> config = remote::ConfigureClient(url, aws::ProcessEnv());
  if (!config.ok()) Die(config.status().message());
  config->retry.max_attempts = 10;  // as the JavaScript client of the benchmark

  const double cpu0 = CpuSeconds();
  const int64_t t0 = WallMillis();
  int64_t records = 0, failed = 0;
  if (mode == "create") {
    Create(*config, stream);
  } else if (mode == "put" && argc == 6) {
    records = std::atoll(argv[4]);
    failed = Put(*config, stream, records, std::max(1, std::atoi(argv[5])));
  } else if (mode == "get" && argc >= 6) {
    std::vector<std::string> shards(argv + 6, argv + argc);
    if (shards.empty())
      for (int i = 0; i < 4; ++i) shards.push_back("shardId-00000000000" + std::to_string(i));
    records = Get(*config, stream, std::atoll(argv[4]), shards);
  } else {
    Die("unknown mode or wrong arguments: " + mode);
  }
  std::printf("%lld %lld %lld %lld %.3f\n", (long long)records, (long long)failed, (long long)t0,
              (long long)WallMillis(), CpuSeconds() - cpu0);
  return 0;
}
