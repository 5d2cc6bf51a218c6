// Consumer groups, worker side: delivery, checkpoints and resumption, limits,
// a closed output, parents before children across resharding, and --exec
// batches with retries, bisection and a failure file.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "consume/exec_handler.h"
#include "consume/group_worker.h"
#include "core/text.h"
#include "store/local_lease_table.h"
#include "test_util.h"

using namespace kstream;
using kstest::Value;

namespace {

struct Got {
  uint64_t shard;
  SequenceNumber sequence;
  std::string key, data;
};

// A BatchHandler that remembers what it was given; Flush() delivers.
class Collect final : public BatchHandler {
 public:
  size_t batch = 7;
  bool output_gone = false;
  std::vector<Got> delivered;

  size_t max_batch() const override { return batch; }
  Result<bool> Handle(uint64_t shard, const RecordBatch& r, const Context&) override {
    for (size_t i = 0; i < r.size(); ++i)
      handed_.push_back(
          {shard, r[i].sequence, std::string(r[i].partition_key), std::string(r[i].data)});
    return true;
  }
  Result<bool> Flush() override {
    if (output_gone) return false;
    delivered.insert(delivered.end(), handed_.begin(), handed_.end());
    handed_.clear();
    return true;
  }

 private:
  std::vector<Got> handed_;
};

// A deferring handler (like kstream-deliver's): keeps what it is handed
// until DeliverShard(), which fails while `fail` is set.
class Hold final : public BatchHandler {
 public:
  bool fail = false;
  std::map<uint64_t, std::vector<SequenceNumber>> held;
  std::map<uint64_t, SequenceNumber> delivered;

  size_t max_batch() const override { return 5; }
  Result<bool> Handle(uint64_t shard, const RecordBatch& r, const Context&) override {
    for (size_t i = 0; i < r.size(); ++i) held[shard].push_back(r[i].sequence);
    return true;
  }
  Result<bool> Flush() override { return true; }
  bool defers_delivery() const override { return true; }
  std::optional<SequenceNumber> Delivered(uint64_t shard) const override {
    auto it = delivered.find(shard);
    return it == delivered.end() ? std::nullopt : std::optional<SequenceNumber>(it->second);
  }
  Status DeliverShard(uint64_t shard, const Context&) override {
    if (fail) return Status::IOError("disk full");
    if (!held[shard].empty()) delivered[shard] = held[shard].back();
    held[shard].clear();
    return Status::Ok();
  }
  void Release(uint64_t shard) override { held.erase(shard); }
};

struct WorkerFixture : kstest::TestStore {
  explicit WorkerFixture(int shards = 4) {
    REQUIRE(store.CreateStream("s", shards, 24).ok());
    writer = Value(store.OpenWriter("s", SyncMode::kNever));
    table = Value(groups.OpenLeaseTable("s", "app"));
    options.group = "app";
    options.worker = "w1";
  }
  // Puts n records, keys k0..k<keys-1>, data "<key>:<n-th of that key>".
  void Put(int n, int keys = 50) {
    for (int i = 0; i < n; ++i) {
      const std::string key = "k" + std::to_string(next_++ % keys);
      kstest::PutOne(*writer, key, key + ":" + std::to_string(per_key_[key]++));
      ++total;
    }
  }
  Status Run(BatchHandler& handler) {
    GroupStats stats;
    return RunGroupWorker(store, *table, &env, "s", options, handler, stats, &stop);
  }
  std::vector<Lease> Leases() { return Value(table->List()); }

  LocalGroupStore groups{&store};
  std::unique_ptr<StreamWriter> writer;
  std::unique_ptr<LeaseTable> table;
  GroupOptions options;
  StopFlag stop{false};
  int total = 0;

 private:
  int next_ = 0;
  std::map<std::string, int> per_key_;
};

// Every record once, and per key in put order.
void CheckExactlyOnceInOrder(const std::vector<Got>& got, int total) {
  std::set<SequenceNumber> seen;
  std::map<std::string, int> next;
  for (const Got& g : got) {
    CHECK_MESSAGE(seen.insert(g.sequence).second, "repeated: " << g.data);
    const int n = std::stoi(g.data.substr(g.data.find(':') + 1));
    CHECK_MESSAGE(n == next[g.key], "out of order: " << g.data);
    next[g.key] = n + 1;
  }
  CHECK(int(seen.size()) == total);
}

}  // namespace

TEST_SUITE("group") {
  TEST_CASE("AWorkerDeliversEverythingAndARestartResumesAfterItsCheckpoints") {
    WorkerFixture f;
    f.Put(500);
    Collect first;
    REQUIRE(f.Run(first).ok());
    CheckExactlyOnceInOrder(first.delivered, 500);
    auto stats = Value(f.store.DescribeStream("s")).stats;
    for (const Lease& l : f.Leases()) {
      CHECK(l.owner.empty());  // released at exit
      CHECK(l.checkpoint == Checkpoint::Sequence(*stats[l.shard].last_sequence));
    }
    f.Put(100);
    Collect second;
    REQUIRE(f.Run(second).ok());
    CHECK(second.delivered.size() == 100);
    first.delivered.insert(first.delivered.end(), second.delivered.begin(), second.delivered.end());
    CheckExactlyOnceInOrder(first.delivered, 600);
  }

  TEST_CASE("ALimitStopsAfterNRecordsAndTheNextRunGoesOnWithoutGapOrRepeat") {
    WorkerFixture f;
    f.Put(500);
    f.options.limit = 123;
    Collect first;
    REQUIRE(f.Run(first).ok());
    CHECK(first.delivered.size() == 123);
    f.options.limit.reset();
    Collect rest;
    REQUIRE(f.Run(rest).ok());
    first.delivered.insert(first.delivered.end(), rest.delivered.begin(), rest.delivered.end());
    CheckExactlyOnceInOrder(first.delivered, 500);
  }

  TEST_CASE("NothingIsCheckpointedThatCouldNotBeWritten") {
    WorkerFixture f;
    f.Put(100);
    Collect gone;
    gone.output_gone = true;
    REQUIRE(f.Run(gone).ok());
    for (const Lease& l : f.Leases()) {
      CHECK(l.checkpoint == Checkpoint{});
      CHECK(l.owner.empty());
    }
  }

  TEST_CASE("ParentsAreReadToTheirEndBeforeChildrenAcrossSplitsAndMerges") {
    WorkerFixture f(2);
    f.Put(300);
    REQUIRE(f.store.SplitShard("s", 0, uint128(1) << 126).ok());  // -> 2, 3
    f.Put(300);
    REQUIRE(f.store.MergeShards("s", 3, 1).ok());  // -> 4
    f.Put(300);
    REQUIRE(f.store.SplitShard("s", 4, (uint128(1) << 127) + 12345).ok());  // -> 5, 6
    f.Put(300);
    Collect c;
    REQUIRE(f.Run(c).ok());
    CheckExactlyOnceInOrder(c.delivered, 1200);
    std::map<uint64_t, size_t> first, last;  // position of each shard's records
    for (size_t i = 0; i < c.delivered.size(); ++i) {
      first.try_emplace(c.delivered[i].shard, i);
      last[c.delivered[i].shard] = i;
    }
    StreamMeta meta = Value(f.store.ReadMeta("s"));
    for (const ShardMeta& s : meta.shards)
      for (auto p : {s.parent, s.adjacent_parent})
        if (p && first.count(s.index) && last.count(*p)) CHECK(last[*p] < first[s.index]);
    for (const Lease& l : f.Leases())
      CHECK(l.checkpoint.at_shard_end() == !meta.FindShard(l.shard)->is_open());
  }

  TEST_CASE("ExecBisectsAPoisonRecordIntoTheFailureFileAndDeliversTheRestOnce") {
    WorkerFixture f(2);
    for (int i = 0; i < 60; ++i)
      kstest::PutOne(*f.writer, "k" + std::to_string(i), "rec-" + std::to_string(i));
    const std::string out = f.dir.Sub("delivered"), failed = f.dir.Sub("failed.ndjson");
    ExecOptions o;
    o.command =
        "in=$(cat); if printf '%s\\n' \"$in\" | grep -qx rec-17; then exit 4; fi; "
        "printf '%s\\n' \"$in\" >> '" +
        out + "'";
    o.batch_size = 10;
    o.max_retries = 1;
    o.retry_backoff_ms = 1;
    o.bisect = true;
    o.stream = "s";
    o.group = "app";
    auto sink = Value(OpenFailureSink(failed, f.store, &f.env));
    std::vector<std::string> warnings;
    ExecHandler exec(o, std::move(sink), &f.env,
                     [&](const std::string& m) { warnings.push_back(m); });
    REQUIRE(f.Run(exec).ok());
    std::multiset<std::string> lines;
    std::istringstream in(kstest::ReadFileBytes(out));
    for (std::string line; std::getline(in, line);) lines.insert(line);
    CHECK(lines.size() == 59);
    for (int i = 0; i < 60; ++i)
      CHECK(lines.count("rec-" + std::to_string(i)) == (i == 17 ? 0u : 1u));
    const std::string report = kstest::ReadFileBytes(failed);
    CHECK(std::count(report.begin(), report.end(), '\n') == 1);
    std::string poison_b64;
    AppendBase64(poison_b64, "rec-17");
    CHECK(report.find("\"Data\":\"" + poison_b64 + "\"") != std::string::npos);
    CHECK(report.find("\"ErrorMessage\":\"exit status 4\",\"Attempts\":2") != std::string::npos);
    REQUIRE(warnings.size() == 1);
    CHECK(exec.stats().failed_records == 1);
  }

  TEST_CASE("ExecWithoutAFailureDestinationStopsAtTheFailingBatchWithItsSequenceRange") {
    WorkerFixture f(1);
    for (int i = 0; i < 30; ++i) kstest::PutOne(*f.writer, "k", "rec-" + std::to_string(i));
    const std::string env_log = f.dir.Sub("env");
    ExecOptions o;
    o.command =
        "echo \"$KSTREAM_SHARD_ID $KSTREAM_FIRST_SEQUENCE $KSTREAM_LAST_SEQUENCE "
        "$KSTREAM_RECORD_COUNT $KSTREAM_ATTEMPT $KSTREAM_GROUP\" >> '" +
        env_log + "'; ! grep -qx rec-25";
    o.batch_size = 10;
    o.max_retries = 2;
    o.retry_backoff_ms = 1;
    o.group = "app";
    ExecHandler exec(o, nullptr, &f.env, nullptr);
    Status s = f.Run(exec);
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(s.message().find("shardId-000000000000") != std::string::npos);
    CHECK(s.message().find(ToDecimal(MakeSequenceNumber(0, 21)) + " to " +
                           ToDecimal(MakeSequenceNumber(0, 30))) != std::string::npos);
    CHECK(f.Leases()[0].checkpoint == Checkpoint::Sequence(MakeSequenceNumber(0, 20)));
    CHECK(f.Leases()[0].owner.empty());
    const std::string seq1 = ToDecimal(MakeSequenceNumber(0, 1));
    const std::string seq10 = ToDecimal(MakeSequenceNumber(0, 10));
    CHECK(kstest::ReadFileBytes(env_log).rfind(
              "shardId-000000000000 " + seq1 + " " + seq10 + " 10 1 app\n", 0) == 0);
    CHECK(exec.stats().runs == 5);  // 2 good batches, 3 attempts at the third
  }

  TEST_CASE("ADeferringHandlerIsCheckpointedOnlyAsFarAsItSaysDelivered") {
    WorkerFixture f(2);
    f.Put(40);
    Hold failing;
    failing.fail = true;
    Status s = f.Run(failing);
    CHECK(!s.ok());
    for (const Lease& l : f.Leases()) {
      CHECK(l.checkpoint == Checkpoint{});  // handed over, never delivered
      CHECK(l.owner.empty());
    }
    Hold hold;
    REQUIRE(f.Run(hold).ok());
    auto stats = Value(f.store.DescribeStream("s")).stats;
    for (const Lease& l : f.Leases())
      CHECK(l.checkpoint == Checkpoint::Sequence(*stats[l.shard].last_sequence));
    size_t handed = 0;
    for (const auto& [shard, seq] : hold.delivered) handed += seq > 0;
    CHECK(handed == 2);
  }
}  // TEST_SUITE
