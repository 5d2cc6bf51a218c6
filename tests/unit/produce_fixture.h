// Shared by the produce tests: a LocalStore stream to produce into, RunProducer
// on a thread reading a real pipe, and checks of --print output against what
// cursors read back.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/stop_flag.h"
#include "io/record_reader.h"
#include "io/record_writer.h"
#include "pipe_fixture.h"
#include "produce/producer.h"
#include "test_util.h"

namespace kstest {

using namespace kstream;  // only the produce tests include this header

struct ProduceFixture : kstest::TestStore {
  explicit ProduceFixture(int shards = 4) { REQUIRE(store.CreateStream("s", shards, 24).ok()); }
  StreamMeta Meta() { return Value(store.ReadMeta("s")); }
  std::vector<Rec> Shard(uint64_t index) { return kstest::ReadShard(store, "s", index); }
  // Every record of the stream by sequence number, with its shard.
  std::map<uint128, std::pair<uint64_t, Rec>> All() {
    std::map<uint128, std::pair<uint64_t, Rec>> out;
    for (const auto& s : Meta().shards)
      for (auto& r : Shard(s.index)) out.emplace(r.sequence, std::pair{s.index, r});
    return out;
  }
};

inline std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// The --print lines name, in input order, where each of `datas` was written.
inline void CheckPrintedMatchesStore(ProduceFixture& f, const std::string& printed,
                                     const std::vector<std::string>& datas) {
  auto results = kstest::ParseEnvelopes(printed);
  REQUIRE(results.size() == datas.size());
  auto all = f.All();
  CHECK(all.size() == datas.size());
  for (size_t i = 0; i < datas.size(); ++i) {
    CAPTURE(i);
    auto it = all.find(results[i].sequence);
    REQUIRE(it != all.end());
    CHECK(it->second.first == results[i].shard);
    CHECK(it->second.second.data == datas[i]);
    CHECK(!results[i].has_data);
  }
}

inline ProducerOptions Fixed(std::string key) {
  ProducerOptions o;
  o.key_source = KeySource::kFixed;
  o.fixed_key = std::move(key);
  return o;
}

inline ProducerOptions ByField(std::string_view path) {
  ProducerOptions o;
  o.key_source = KeySource::kField;
  o.key_field = Value(FieldPath::Parse(path));
  return o;
}

// Lines {"id":"u<i % 13>","n":i}, line `bad` (1-based, 0: none) replaced.
inline std::vector<std::string> UserLines(int n, std::vector<int> bad = {}) {
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i)
    lines.push_back(R"({"id":"u)" + std::to_string(i % 13) + R"(","n":)" + std::to_string(i) + "}");
  for (int b : bad) lines[b - 1] = b % 2 ? "not json" : R"({"other":1})";
  return lines;
}

inline size_t CountStored(ProduceFixture& f) {
  size_t n = 0;
  for (const auto& s : f.Meta().shards) n += f.Shard(s.index).size();
  return n;
}

// RunProducer on a thread, reading from a pipe the test writes to (or from
// input_fd). On the way out the pipe is closed and stop set, so a failed check
// never leaves it hanging.
struct BackgroundProducer {
  BackgroundProducer(ProduceFixture& f, ProducerOptions opts, int input_fd = -1, char delim = '\n')
      : o(std::move(opts)),
        reader(input_fd >= 0 ? input_fd : in.r(), delim, kMaxRecordBytes),
        writer(Value(f.store.OpenWriter("s", o.sync))) {
    reader.set_interrupt_flag(&stop);
    thread = std::thread([this, &f] {
      status = RunProducer(*writer, reader, o, results, stats, &f.env, &stop);
      done = true;
    });
  }
  ~BackgroundProducer() {
    stop = true;
    in.CloseWrite();
    thread.join();
  }
  bool WaitDone() {
    return WaitUntil([&] { return done.load(); }, 30000);
  }
  bool Finish() {
    in.CloseWrite();
    return WaitDone();
  }

  ProducerOptions o;
  Pipe in;
  RecordReader reader;
  OutFile out;
  RecordWriter results{out.fd(), OutputFormat::kLines};
  std::unique_ptr<StreamWriter> writer;
  StopFlag stop{false};
  std::atomic<bool> done{false};
  Status status;
  ProducerStats stats;
  std::thread thread;
};

struct ProduceOutcome {
  Status status;
  ProducerStats stats;
  std::string printed;
};

// Runs the producer over `input` fed through a pipe `chunk` bytes at a time.
inline ProduceOutcome Produce(ProduceFixture& f, const std::string& input, const ProducerOptions& o,
                              size_t chunk = 64 * 1024, char delim = '\n') {
  Feeder feed(input, chunk);
  BackgroundProducer p(f, o, feed.fd(), delim);
  CHECK_MESSAGE(p.WaitDone(), "the producer did not end by itself");
  return {p.status, p.stats, p.out.Contents()};
}

}  // namespace kstest
