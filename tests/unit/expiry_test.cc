// Closed shards leaving the stream once retention has passed since they
// closed (as Kinesis stops listing expired shards): the shard map, the
// directories, crashes between the two, readers and writers caught in the
// middle, and consumer-group leases of shards that are gone. On a fake clock.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "consume/consumer.h"
#include "consume/group_leases.h"
#include "consume/group_status.h"
#include "consume/group_worker.h"
#include "consume/memory_lease_table.h"
#include "pipe_fixture.h"
#include "store/local_lease_table.h"
#include "test_util.h"

using namespace kstream;
using kstest::Value;

namespace {

constexpr int64_t kHour = 3600 * 1000;

// A fake clock whose directory removals and metadata writes can be made to
// fail, as a crash between the steps of an expiry would leave them.
class ExpiryEnv final : public EnvWrapper {
 public:
  ExpiryEnv() : EnvWrapper(Env::Default()) {}
  int64_t NowMillis() override { return now_; }
  void Advance(int64_t ms) { now_ += ms; }
  Status RemoveTree(const std::string& dir) override {
    if (fail_remove) return Status::IOError("remove " + dir + ": injected");
    return target()->RemoveTree(dir);
  }
  Status WriteFileAtomic(const std::string& path, std::string_view contents) override {
    if (fail_meta && path.ends_with("stream.json"))
      return Status::IOError("write " + path + ": injected");
    return target()->WriteFileAtomic(path, contents);
  }
  std::atomic<bool> fail_remove{false}, fail_meta{false};

 private:
  std::atomic<int64_t> now_{1'700'000'000'000};
};

struct Fixture {
  explicit Fixture(int shards = 1, uint64_t segment_bytes = 64ull << 20) {
    store.set_max_segment_bytes(segment_bytes);
    REQUIRE(store.CreateStream("s", shards, 24).ok());
    writer = Value(store.OpenWriter("s", SyncMode::kNever));
  }
  std::vector<uint64_t> Shards() {
    std::vector<uint64_t> out;
    for (const ShardMeta& s : Value(store.ListShards("s")).shards) out.push_back(s.index);
    return out;
  }
  // The shard directories on disk.
  std::vector<uint64_t> Dirs() {
    std::vector<uint64_t> out;
    for (const auto& e : std::filesystem::directory_iterator(store.StreamDir("s") + "/shards"))
      out.push_back(Value(ParseShardId(e.path().filename().string())));
    std::sort(out.begin(), out.end());
    return out;
  }
  // Puts n records, keys k0..k49, data "<key>:<n-th of that key>".
  void Put(int n) {
    for (int i = 0; i < n; ++i) {
      const std::string key = "k" + std::to_string(next_++ % 50);
      auto r = kstest::PutOne(*writer, key, key + ":" + std::to_string(per_key_[key]++));
      written[r.shard_index].push_back(r.sequence);
    }
  }
  std::vector<SequenceNumber> Read(uint64_t shard) {
    std::vector<SequenceNumber> out;
    for (const auto& r : kstest::ReadShard(store, "s", shard)) out.push_back(r.sequence);
    return out;
  }

  kstest::TempDir dir;
  ExpiryEnv env;
  LocalStore store{&env, dir.path()};
  std::unique_ptr<StreamWriter> writer;
  std::map<uint64_t, std::vector<SequenceNumber>> written;  // by shard

 private:
  int next_ = 0;
  std::map<std::string, int> per_key_;
};

const uint128 kHalf = uint128(1) << 127;

}  // namespace

TEST_SUITE("expiry") {
  TEST_CASE("AClosedShardLeavesTheStreamOnceRetentionPassedSinceItClosed") {
    Fixture f;
    f.Put(100);
    REQUIRE(f.store.SplitShard("s", 0, kHalf).ok());  // 0 closed at t0 -> 1, 2
    f.Put(100);
    f.env.Advance(23 * kHour);
    REQUIRE(f.store.MergeShards("s", 1, 2).ok());  // 1, 2 closed at t0 + 23h -> 3
    f.Put(100);
    CHECK(f.Shards() == std::vector<uint64_t>{0, 1, 2, 3});

    f.env.Advance(1 * kHour);  // exactly retention since 0 closed: not yet
    CHECK(f.Shards() == std::vector<uint64_t>{0, 1, 2, 3});
    f.env.Advance(1);
    CHECK(f.Shards() == std::vector<uint64_t>{1, 2, 3});
    // Durable: the file itself no longer names it, and its files are gone.
    StreamMeta stored = Value(f.store.ReadMeta("s"));
    CHECK(stored.FindShard(0) == nullptr);
    CHECK(stored.next_shard_index == 4);  // ids are never reused
    CHECK(f.Dirs() == std::vector<uint64_t>{1, 2, 3});
    // Children keep their parent ids, as Kinesis reports them.
    CHECK(stored.FindShard(1)->parent == std::optional<uint64_t>(0));

    auto gone = f.store.OpenCursor("s", 0, {});
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.status().code() == StatusCode::kNotFound);
    CHECK(gone.status().message().find("no longer exists") != std::string::npos);
    auto never = f.store.OpenCursor("s", 9, {});
    CHECK(never.status().message().find("does not exist") != std::string::npos);
    CHECK(f.store.GetShardStats("s", 0).status().code() == StatusCode::kNotFound);
    auto d = Value(f.store.DescribeStream("s"));
    CHECK(d.meta.shards.size() == d.stats.size());
    CHECK(f.Read(1) == f.written[1]);  // closed 1h ago: still readable

    f.env.Advance(23 * kHour);
    CHECK(f.Shards() == std::vector<uint64_t>{3});
    CHECK(f.Dirs() == std::vector<uint64_t>{3});
    CHECK(f.Read(3) == f.written[3]);
    REQUIRE(CheckOpenShardsTile(Value(f.store.ReadMeta("s"))).ok());
  }

  TEST_CASE("ALongerRetentionKeepsClosedShardsLongerAndAShorterOneDropsThemAtOnce") {
    Fixture f;
    f.Put(10);
    REQUIRE(f.store.SplitShard("s", 0, kHalf).ok());
    REQUIRE(f.store.SetRetention("s", 48).ok());
    f.env.Advance(30 * kHour);
    CHECK(f.Shards() == std::vector<uint64_t>{0, 1, 2});
    REQUIRE(f.store.SetRetention("s", 24).ok());  // trims at once, like DecreaseRetention
    CHECK(Value(f.store.ReadMeta("s")).FindShard(0) == nullptr);
    CHECK(f.Dirs() == std::vector<uint64_t>{1, 2});
  }

  TEST_CASE("ACrashBetweenTheMapAndTheDirectoriesLeavesOnlyAnOrphanThatALaterPassRemoves") {
    Fixture f;
    f.Put(50);
    REQUIRE(f.store.SplitShard("s", 0, kHalf).ok());
    f.env.Advance(25 * kHour);

    // The map cannot be written (a full disk, no write access): nothing
    // changes on disk, and readers still see the stream without the shard.
    f.env.fail_meta = true;
    CHECK(f.Shards() == std::vector<uint64_t>{1, 2});
    CHECK(Value(f.store.ReadMeta("s")).FindShard(0) != nullptr);
    CHECK(f.Dirs() == std::vector<uint64_t>{0, 1, 2});
    f.env.fail_meta = false;

    // The map is written but the directory is not removed: no dangling name.
    f.env.fail_remove = true;
    CHECK(f.Shards() == std::vector<uint64_t>{1, 2});
    CHECK(Value(f.store.ReadMeta("s")).FindShard(0) == nullptr);
    CHECK(f.Dirs() == std::vector<uint64_t>{0, 1, 2});
    f.env.fail_remove = false;
    // A writer opening (or a trim) sweeps the orphan; a directory the map
    // does not know yet (index >= next_shard_index) is left alone.
    std::filesystem::create_directory(f.store.ShardDir("s", 7));
    f.writer = Value(f.store.OpenWriter("s", SyncMode::kNever));
    CHECK(f.Dirs() == std::vector<uint64_t>{1, 2, 7});
    f.Put(50);
    CHECK(f.Read(1).size() + f.Read(2).size() == 50);
  }

  TEST_CASE("ACursorInAParentThatExpiresReachesItsEndInsteadOfFailing") {
    Fixture f(1, 4096);  // many small segments
    f.Put(400);
    REQUIRE(f.store.SplitShard("s", 0, kHalf).ok());
    auto cursor = Value(f.store.OpenCursor("s", 0, {}));
    RecordBatch batch;
    REQUIRE(Value(cursor->Read(batch, 10, 1 << 20)) == ShardCursor::State::kMore);
    f.env.Advance(25 * kHour);
    REQUIRE(f.Shards() == std::vector<uint64_t>{1, 2});  // expired, files gone
    ShardCursor::State state = ShardCursor::State::kMore;
    for (int i = 0; i < 1000 && state != ShardCursor::State::kShardEnd; ++i) {
      batch.Clear();
      state = Value(cursor->Read(batch, 50, 1 << 20));
    }
    CHECK(state == ShardCursor::State::kShardEnd);
  }

  TEST_CASE("AWriterIdleAcrossASplitAndTheParentsExpiryGoesOnInTheChildren") {
    Fixture f;
    f.Put(20);  // the writer has shard 0 open
    LocalStore other(&f.env, f.dir.path());
    REQUIRE(other.SplitShard("s", 0, kHalf).ok());
    f.env.Advance(25 * kHour);
    REQUIRE(other.TrimStream("s").ok());
    REQUIRE(f.Dirs() == std::vector<uint64_t>{1, 2});
    f.Put(100);
    CHECK(f.Read(1).size() + f.Read(2).size() == 100);
  }

  TEST_CASE("AWholeStreamReaderLosesNoChildRecordWhenTheParentItReadsExpires") {
    Fixture f(1, 4096);
    f.Put(6000);  // more than one read of the parent (4096 records a read)
    REQUIRE(f.store.SplitShard("s", 0, kHalf).ok());
    f.env.Advance(20 * kHour);  // the children's records stay within retention
    f.Put(3000);
    const size_t children = f.written[1].size() + f.written[2].size();
    REQUIRE(children == 3000);

    std::string out_path = f.dir.Sub("out.json");
    int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    RecordWriter w(fd, OutputFormat::kJson);
    ConsumerOptions o;
    o.metadata_refresh_ms = 50;
    bool expired = false;
    o.on_progress = [&](const ConsumerStats&) {
      if (expired) return;
      expired = true;  // after the first batch of the parent
      f.env.Advance(5 * kHour);
      REQUIRE(f.store.TrimStream("s").ok());
    };
    ConsumerStats stats;
    StopFlag stop{false};
    Status s = RunConsumer(f.store, "s", o, w, stats, &stop);
    ::close(fd);
    REQUIRE_MESSAGE(s.ok(), s.message());
    REQUIRE(expired);
    REQUIRE(f.Shards() == std::vector<uint64_t>{1, 2});
    std::set<std::string> seen;
    std::map<uint64_t, size_t> per_shard;
    for (const auto& e : kstest::ParseEnvelopes(kstest::ReadFileBytes(out_path))) {
      CHECK_MESSAGE(seen.insert(ToDecimal(e.sequence)).second, "repeated " << e.sequence);
      per_shard[e.shard]++;
    }
    CHECK(per_shard[1] == f.written[1].size());
    CHECK(per_shard[2] == f.written[2].size());
    CHECK(per_shard[0] < 6000);  // what was left of the parent had expired
  }

  TEST_CASE("AGroupFinishesAnExpiredParentUnreadAndDeletesItsFinishedLease") {
    Fixture f;
    LocalGroupStore groups(&f.store);
    auto table = Value(groups.OpenLeaseTable("s", "app"));
    ShardMapSeen seen;
    REQUIRE(SyncLeases(f.store, "s", *table, {}, &seen).ok());  // the group starts on 0
    f.Put(200);
    REQUIRE(f.store.SplitShard("s", 0, kHalf).ok());
    f.Put(300);
    f.env.Advance(25 * kHour);  // 0 expires before the group read any of it

    struct Collect final : BatchHandler {
      std::map<uint64_t, size_t> got;
      size_t max_batch() const override { return 50; }
      Result<bool> Handle(uint64_t shard, const RecordBatch& r, const Context&) override {
        got[shard] += r.size();
        return true;
      }
      Result<bool> Flush() override { return true; }
    } handler;
    GroupOptions o;
    o.group = "app";
    o.worker = "w1";
    GroupStats stats;
    StopFlag stop{false};
    Status s = RunGroupWorker(f.store, *table, &f.env, "s", o, handler, stats, &stop);
    REQUIRE_MESSAGE(s.ok(), s.message());
    CHECK(handler.got[1] == f.written[1].size());
    CHECK(handler.got[2] == f.written[2].size());
    CHECK(handler.got.count(0) == 0);
    std::vector<uint64_t> leased;
    for (const Lease& l : Value(table->List())) {
      leased.push_back(l.shard);
      CHECK(l.parents == std::vector<uint64_t>{0});  // lineage as Kinesis reports it
    }
    CHECK(leased == std::vector<uint64_t>{1, 2});
  }

  TEST_CASE("FinishedLeasesOfExpiredShardsAreCleanedUpAndNoLongerShown") {
    Fixture f(2);
    f.Put(200);
    REQUIRE(f.store.SplitShard("s", 0, kHalf / 2).ok());  // 0 -> 2, 3
    f.Put(200);
    LocalGroupStore groups(&f.store);
    auto table = Value(groups.OpenLeaseTable("s", "app"));
    ShardMapSeen seen;
    REQUIRE(SyncLeases(f.store, "s", *table, {}, &seen).ok());
    // The group read shard 0 to its end; shard 1 is open and unfinished.
    std::vector<Lease> leases = Value(table->List());
    REQUIRE(leases.size() == 4);
    LeaseUpdate done{leases[0].counter, "", leases[0]};
    done.lease.counter++;
    done.lease.checkpoint = Checkpoint::ShardEnd();
    REQUIRE(Value(table->Apply(std::vector<LeaseUpdate>{done}))[0]);

    f.env.Advance(25 * kHour);
    auto status = Value(GetGroupStatus(f.store, *table, "s", "app", f.env.NowMillis()));
    for (const ShardProgress& p : status.shards) CHECK(p.lease.shard != 0);  // not shown
    REQUIRE(SyncLeases(f.store, "s", *table, {}, &seen).ok());
    std::vector<uint64_t> left;
    for (const Lease& l : Value(table->List())) left.push_back(l.shard);
    CHECK(left == std::vector<uint64_t>{1, 2, 3});

    // An unfinished lease of a gone shard stays until a worker ends it, and
    // RemoveFinished never touches a lease that is not at SHARD_END.
    CHECK(Value(table->RemoveFinished(std::vector<uint64_t>{1, 2})) == 0);
    MemoryLeaseTable memory;
    REQUIRE(memory.Add(std::vector<Lease>{done.lease, leases[1]}).ok());
    CHECK(Value(memory.RemoveFinished(std::vector<uint64_t>{0, 1})) == 1);
    CHECK(Value(memory.List()).size() == 1);
  }

  TEST_CASE("AWriterAndReadersGoOnWhileReshardsAndExpiriesRunBesideThem") {
    Fixture f(2);
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<std::string> errors;
    struct Acked {
      PutResult result;
      int64_t put_ms;  // the clock before the put: the arrival is not earlier
    };
    std::vector<Acked> acked;
    auto fail = [&](const Status& s) {
      std::lock_guard<std::mutex> lock(mu);
      errors.push_back(s.ok() ? "DescribeStream gave a shard without its figures" : s.message());
    };
    std::thread writer([&] {
      auto w = f.store.OpenWriter("s", SyncMode::kNever);
      if (!w.ok()) return fail(w.status());
      std::vector<PutResult> results;
      for (int i = 0; !stop && i < 200000; ++i) {
        const std::string key = "k" + std::to_string(i % 97), data = "v" + std::to_string(i);
        PutRecord rec{key, data, std::nullopt};
        const int64_t before = f.env.NowMillis();
        Status s = (*w)->Put(std::span<const PutRecord>(&rec, 1), results);
        if (!s.ok()) return fail(s);
        std::lock_guard<std::mutex> lock(mu);
        acked.push_back({results[0], before});
      }
    });
    std::thread reader([&] {
      LocalStore mine(&f.env, f.dir.path());
      while (!stop) {
        auto d = mine.DescribeStream("s");
        if (!d.ok()) return fail(d.status());
        if (d->meta.shards.size() != d->stats.size()) return fail(Status::Ok());
      }
    });
    LocalStore resharder(&f.env, f.dir.path());
    for (int round = 0; round < 12; ++round) {
      StreamMeta m = Value(resharder.ListShards("s"));
      auto open = m.OpenShards();
      Status s =
          open.size() > 2 && round % 2
              ? resharder.MergeShards("s", open[0]->index, open[1]->index)
              : resharder.SplitShard("s", open.back()->index,
                                     open.back()->start_hash +
                                         (open.back()->end_hash - open.back()->start_hash) / 2);
      REQUIRE_MESSAGE(s.ok(), s.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      f.env.Advance(13 * kHour);  // every other round, the shards closed before expire
      REQUIRE(resharder.TrimStream("s").ok());
    }
    const int64_t cutoff = f.env.NowMillis() - 24 * kHour;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop = true;
    writer.join();
    reader.join();
    for (const auto& e : errors) FAIL_CHECK(e);
    REQUIRE(!acked.empty());

    // The map and the disk agree; every acknowledged record of a shard still
    // there is readable once (the clock jumps, so only those within retention).
    StreamMeta m = Value(f.store.ListShards("s"));
    std::vector<uint64_t> named;
    for (const ShardMeta& s : m.shards) named.push_back(s.index);
    CHECK(f.Dirs() == named);
    for (const ShardMeta& s : m.shards)
      if (s.closed_ms) CHECK(*s.closed_ms >= cutoff);
    std::map<uint64_t, std::set<uint128>> held;
    for (uint64_t shard : named) {
      for (const auto& r : kstest::ReadShard(f.store, "s", shard))
        CHECK(held[shard].insert(r.sequence).second);
    }
    size_t checked = 0;
    for (const Acked& a : acked) {
      if (!m.FindShard(a.result.shard_index) || a.put_ms < cutoff) continue;
      CHECK(held[a.result.shard_index].count(a.result.sequence.low128()) == 1);
      ++checked;
    }
    CHECK(checked > 0);
  }
}
