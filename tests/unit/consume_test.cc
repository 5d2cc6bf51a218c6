// lib/consume: RunConsumer over a real LocalStore into real files and pipes,
// once to the end and following, across resharding.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "consume/consumer.h"
#include "core/stop_flag.h"
#include "core/text.h"
#include "io/record_writer.h"
#include "pipe_fixture.h"
#include "test_util.h"

using namespace kstream;
using kstest::Envelope;
using kstest::OutFile;
using kstest::Pipe;
using kstest::Value;
using kstest::WaitUntil;

namespace {

struct Written {
  uint64_t shard;
  SequenceNumber sequence;
  std::string key, data;
};

struct Fixture : kstest::TestStore {
  explicit Fixture(int shards) {
    REQUIRE(store.CreateStream("s", shards, 24).ok());
    writer = Value(store.OpenWriter("s", SyncMode::kNever));
  }
  StreamMeta Meta() { return Value(store.ReadMeta("s")); }
  // Puts n records with keys "k<i % keys>" and data "<key>:<count of that key so far>".
  void Put(int n, int keys = 1000, int64_t step_ms = 0) {
    for (int i = 0; i < n; ++i) {
      std::string key = "k" + std::to_string(next_++ % keys);
      std::string data = key + ":" + std::to_string(per_key_[key]++);
      auto r = kstest::PutOne(*writer, key, data);
      written.push_back({r.shard_index, r.sequence, key, data});
      env.Advance(step_ms);
    }
  }
  // Puts one record into the open shard `shard` through its explicit hash key,
  // with data "s<shard>:<count put there so far>".
  void PutTo(uint64_t shard) {
    const std::string tag = "s" + std::to_string(shard);
    const std::string data = tag + ":" + std::to_string(per_key_[tag]++);
    auto r = kstest::PutOne(*writer, "pk", data, Meta().FindShard(shard)->start_hash);
    REQUIRE(r.shard_index == shard);
    written.push_back({r.shard_index, r.sequence, "pk", data});
  }

  std::unique_ptr<StreamWriter> writer;
  std::vector<Written> written;

 private:
  int next_ = 0;
  std::map<std::string, int> per_key_;
};

// Each of `want` appears exactly once in got, with its shard, key and data.
void CheckExactlyOnce(const std::vector<Envelope>& got, const std::vector<Written>& want) {
  std::map<uint128, const Envelope*> by_seq;
  for (const auto& e : got) CHECK_MESSAGE(by_seq.emplace(e.sequence, &e).second, "duplicate");
  CHECK(got.size() == want.size());
  for (const auto& w : want) {
    auto it = by_seq.find(w.sequence.low128());
    REQUIRE_MESSAGE(it != by_seq.end(), "missing " << w.data);
    CHECK(it->second->shard == w.shard);
    CHECK(it->second->key == w.key);
    CHECK(it->second->data == w.data);
  }
}

// Per partition key (the part of the data before ':'), the records come out
// in the order they were put.
void CheckOrderPerKey(const std::vector<Envelope>& got) {
  std::map<std::string, int> next;
  for (const auto& e : got) {
    const std::string key = e.data.substr(0, e.data.find(':'));
    CHECK_MESSAGE(e.data == key + ":" + std::to_string(next[key]++), "out of order: " << e.data);
  }
}

// Every record of a shard comes after every record of its parents.
void CheckParentsFirst(const std::vector<Envelope>& got, const StreamMeta& meta) {
  std::map<uint64_t, std::pair<size_t, size_t>> span;  // first and last position
  for (size_t i = 0; i < got.size(); ++i) {
    auto [it, fresh] = span.emplace(got[i].shard, std::pair{i, i});
    if (!fresh) it->second.second = i;
  }
  for (const auto& s : meta.shards)
    for (auto p : {s.parent, s.adjacent_parent}) {
      if (!p || !span.count(s.index) || !span.count(*p)) continue;
      CAPTURE(s.index);
      CAPTURE(*p);
      CHECK(span[*p].second < span[s.index].first);
    }
}

size_t CountLines(const std::string& text) {
  return size_t(std::count(text.begin(), text.end(), '\n'));
}

// RunConsumer on a thread, into a file (or out_fd) as JSON; stopped on the
// way out, so a consumer that never ends fails the test instead of hanging it.
struct Runner {
  Runner(Fixture& f, ConsumerOptions opts, std::string stream = "s", int out_fd = -1)
      : o(std::move(opts)), w(out_fd >= 0 ? out_fd : out.fd(), OutputFormat::kJson) {
    o.metadata_refresh_ms = 50;
    o.on_progress = [this](const ConsumerStats&) {
      started = true;
      while (hold && !stop) {  // parked between two passes while the test acts
        parked = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      parked = false;
    };
    thread = std::thread([this, &f, stream] {
      status = RunConsumer(f.store, stream, o, w, stats, &stop);
      done = true;
    });
  }
  ~Runner() {
    stop = true;
    thread.join();
  }
  bool WaitForLines(size_t n) {
    return WaitUntil([&] { return CountLines(out.Contents()) >= n; });
  }
  std::vector<Envelope> Records() const { return kstest::ParseEnvelopes(out.Contents()); }
  // Parks the consumer between two passes until Release().
  bool Hold() {
    hold = true;
    return WaitUntil([&] { return parked.load(); });
  }
  void Release() { hold = false; }
  bool WaitDone() {
    return WaitUntil([&] { return done.load(); }, 30000);
  }
  bool Stop() {
    stop = true;
    return WaitDone();
  }

  ConsumerOptions o;
  OutFile out;
  RecordWriter w;
  StopFlag stop{false};
  std::atomic<bool> started{false}, done{false}, hold{false}, parked{false};
  Status status;
  ConsumerStats stats;
  std::thread thread;
};

ConsumerOptions Following(ConsumerOptions o = {}) {
  o.follow = true;
  return o;
}

struct Outcome {
  Status status;
  ConsumerStats stats;
  std::vector<Envelope> records;
};

// Runs the consumer once to its end.
Outcome Consume(Fixture& f, const ConsumerOptions& o, const std::string& stream = "s") {
  Runner c(f, o, stream);
  CHECK_MESSAGE(c.WaitDone(), "the consumer did not end by itself");
  return {c.status, c.stats, c.Records()};
}

}  // namespace

TEST_SUITE("consume") {
  TEST_CASE("ReadsEveryRecordOfEveryShardExactlyOnce") {
    Fixture f(4);
    f.Put(20000);  // over 4096 a shard: several reads each
    uint64_t bytes = 0;
    for (const auto& w : f.written) bytes += w.data.size();
    for (bool ordered : {false, true}) {
      CAPTURE(ordered);
      ConsumerOptions o;
      o.ordered = ordered;
      auto r = Consume(f, o);
      REQUIRE_MESSAGE(r.status.ok(), r.status.message());
      CheckExactlyOnce(r.records, f.written);
      CheckOrderPerKey(r.records);
      CHECK(r.stats.records == 20000);
      CHECK(r.stats.bytes == bytes);
      CHECK(r.stats.corrupt == 0);
    }
  }

  TEST_CASE("ReadsOnlyTheChosenShards") {
    Fixture f(4);
    f.Put(400);
    ConsumerOptions o;
    o.shards = {1, 3};
    auto r = Consume(f, o);
    REQUIRE_MESSAGE(r.status.ok(), r.status.message());
    std::vector<Written> want;
    for (const auto& w : f.written)
      if (w.shard == 1 || w.shard == 3) want.push_back(w);
    CHECK(!want.empty());
    CheckExactlyOnce(r.records, want);

    o.shards = {2, 9};
    r = Consume(f, o);
    CHECK(r.status.code() == StatusCode::kNotFound);
    CHECK(r.status.message() == "shard shardId-000000000009 does not exist in stream 's'");
  }

  TEST_CASE("LimitStopsAfterThatManyRecords") {
    Fixture f(4);
    f.Put(100);
    for (bool ordered : {false, true}) {
      CAPTURE(ordered);
      ConsumerOptions o;
      o.ordered = ordered;
      o.limit = 7;
      auto r = Consume(f, o);
      REQUIRE(r.status.ok());
      CHECK(r.records.size() == 7);
      CHECK(r.stats.records == 7);
      o.limit = 1000;
      CHECK(Consume(f, o).records.size() == 100);
      o.shards = {0};
      o.limit = 1;
      CHECK(Consume(f, o).records.size() == 1);
    }
  }

  TEST_CASE("LimitZeroWritesNothing") {
    Fixture f(2);
    f.Put(10);
    for (bool ordered : {false, true}) {
      CAPTURE(ordered);
      ConsumerOptions o;
      o.ordered = ordered;
      o.limit = 0;
      auto r = Consume(f, o);  // used to spin forever unordered, and print one ordered
      CHECK(r.status.ok());
      CHECK(r.records.empty());
    }
  }

  TEST_CASE("AWriteErrorOnTheOutputFailsTheRun") {
    Fixture f(2);
    f.Put(300);
    const std::string big(2000, 'b');
    for (int i = 0; i < 300; ++i) kstest::PutOne(*f.writer, "big", big);  // over the buffer
    for (bool ordered : {false, true}) {
      CAPTURE(ordered);
      const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
      REQUIRE(fd >= 0);
      ConsumerOptions o;
      o.ordered = ordered;
      Status s;
      {
        Runner c(f, o, "s", fd);
        REQUIRE(c.WaitDone());
        s = c.status;
      }
      ::close(fd);
      CHECK(s.code() == StatusCode::kIOError);
      CHECK(s.message() == "write standard output: No space left on device");
    }
  }

  TEST_CASE("OrderedMergeGivesNonDecreasingArrivalTimesAcrossShards") {
    Fixture f(4);
    std::mt19937 rng(7);
    for (int i = 0; i < 3000; ++i) {
      f.PutTo(rng() % 4);
      f.env.Advance(rng() % 3);  // often several records share a millisecond
    }
    ConsumerOptions o;
    o.ordered = true;
    auto r = Consume(f, o);
    REQUIRE(r.status.ok());
    CheckExactlyOnce(r.records, f.written);
    CheckOrderPerKey(r.records);  // here: per shard
    for (size_t i = 1; i < r.records.size(); ++i) {
      CAPTURE(i);
      REQUIRE(r.records[i - 1].arrival_ms <= r.records[i].arrival_ms);
    }
    // The fake clock started at 1700000000000 and moved under 2 ms a record.
    CHECK(r.records.front().arrival_ms == 1700000000000);
    CHECK(r.records.back().arrival_ms < 1700000000000 + 6000);
  }

  TEST_CASE("ParentsAreReadBeforeChildrenAndEachKeyKeepsItsPutOrder") {
    Fixture f(2);
    f.Put(9000, 10, 1);  // over 4096 a shard: round robin reads parents in several turns
    const ShardMeta s0 = *f.Meta().FindShard(0);
    REQUIRE(f.store.SplitShard("s", 0, s0.start_hash + (s0.end_hash - s0.start_hash) / 2).ok());
    f.Put(3000, 10, 1);
    REQUIRE(f.store.MergeShards("s", 2, 3).ok());  // the two children of 0 become 4
    const ShardMeta s1 = *f.Meta().FindShard(1);
    REQUIRE(f.store.SplitShard("s", 1, s1.start_hash + 12345).ok());  // 5 and 6
    f.Put(3000, 10, 1);
    const StreamMeta meta = f.Meta();
    REQUIRE(meta.shards.size() == 7);
    std::set<uint64_t> used;
    for (const auto& w : f.written) used.insert(w.shard);
    CHECK(used.size() >= 5);  // 5 is tiny and may get nothing
    for (bool ordered : {false, true}) {
      CAPTURE(ordered);
      ConsumerOptions o;
      o.ordered = ordered;
      auto r = Consume(f, o);
      REQUIRE_MESSAGE(r.status.ok(), r.status.message());
      CheckExactlyOnce(r.records, f.written);
      CheckParentsFirst(r.records, meta);
      CheckOrderPerKey(r.records);
      if (ordered)
        for (size_t i = 1; i < r.records.size(); ++i)
          CHECK(r.records[i - 1].arrival_ms <= r.records[i].arrival_ms);
    }
  }

  TEST_CASE("FollowPicksUpNewRecordsAndNewShards") {
    Fixture f(2);
    f.Put(5, 3);
    Runner c(f, Following());
    REQUIRE(c.WaitForLines(5));
    f.Put(5, 3);
    REQUIRE(c.WaitForLines(10));
    REQUIRE(f.store.SplitShard("s", 1, f.Meta().FindShard(1)->start_hash + 1000).ok());
    f.Put(30, 3);
    f.PutTo(3);
    REQUIRE(c.WaitForLines(41));
    REQUIRE(c.Stop());
    CHECK(c.status.ok());
    CHECK(c.stats.records == 41);
    auto got = c.Records();
    CheckExactlyOnce(got, f.written);
    CheckParentsFirst(got, f.Meta());
    CheckOrderPerKey(got);
  }

  TEST_CASE("LatestSkipsTheRecordsAlreadyThere") {
    Fixture f(3);
    f.Put(50);
    ConsumerOptions o;
    o.start.type = IteratorType::kLatest;
    auto once = Consume(f, o);
    CHECK(once.status.ok());
    CHECK(once.records.empty());

    Runner c(f, Following(o));
    REQUIRE(WaitUntil([&] { return c.started.load(); }));
    const size_t old = f.written.size();
    f.Put(20);
    REQUIRE(c.WaitForLines(20));
    // Shards that appear later are read from their start, not from the latest.
    REQUIRE(c.Hold());
    REQUIRE(f.store.SplitShard("s", 0, f.Meta().FindShard(0)->start_hash + 1000).ok());
    f.PutTo(3);
    f.PutTo(4);
    f.Put(20);
    c.Release();
    REQUIRE(c.WaitForLines(42));
    REQUIRE(c.Stop());
    CHECK(c.status.ok());
    CheckExactlyOnce(c.Records(), {f.written.begin() + std::ptrdiff_t(old), f.written.end()});
  }

  TEST_CASE("AMissingStreamIsNotFound") {
    Fixture f(1);
    for (bool follow : {false, true}) {
      ConsumerOptions o;
      o.follow = follow;
      auto r = Consume(f, o, "nope");
      CHECK(r.status.code() == StatusCode::kNotFound);
      CHECK(r.records.empty());
    }
  }

  TEST_CASE("DeletingTheStreamEndsAFollowerWithNotFound") {
    Fixture f(2);
    f.Put(10);
    Runner c(f, Following());
    REQUIRE(c.WaitForLines(10));
    REQUIRE(f.store.DeleteStream("s").ok());
    REQUIRE(WaitUntil([&] { return c.done.load(); }));
    CHECK(c.status.code() == StatusCode::kNotFound);
    CHECK(c.status.message() == "stream 's' was deleted while being read");
  }

  TEST_CASE("AClosedOutputPipeEndsAFollowerQuietly") {
    Fixture f(2);
    f.Put(10);
    Pipe p;
    p.CloseRead();
    Runner c(f, Following(), "s", p.w());
    REQUIRE(c.WaitDone());
    CHECK(c.status.ok());
    CHECK(c.w.closed());
  }
}
