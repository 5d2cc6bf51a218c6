// Consumer groups, lease side: checkpoints and the table format, the local
// lease table's conditional writes, the KCL taker's plan, and coordinators
// settling, failing over and keeping children behind their parents, on a
// fake clock.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "consume/group_leases.h"
#include "consume/lease.h"
#include "consume/lease_coordinator.h"
#include "store/local_lease_table.h"
#include "test_util.h"

using namespace kstream;
using kstest::Value;

namespace {

constexpr int64_t kTimeout = 3000;

Lease Owned(uint64_t shard, const std::string& owner, int64_t renewed_ms,
            std::vector<uint64_t> parents = {}) {
  Lease l;
  l.shard = shard;
  l.owner = owner;
  l.counter = 1;
  l.renewed_ms = renewed_ms;
  l.timeout_ms = kTimeout;
  l.parents = std::move(parents);
  return l;
}

struct GroupFixture : kstest::TestStore {
  explicit GroupFixture(int shards = 6) {
    REQUIRE(store.CreateStream("s", shards, 24).ok());
    table = Value(groups.OpenLeaseTable("s", "app"));
  }
  std::vector<Lease> Leases() { return Value(table->List()); }
  // How many live leases each worker holds now.
  std::map<std::string, int> Counts() {
    std::map<std::string, int> n;
    for (const Lease& l : Leases())
      if (l.live(env.NowMillis())) n[l.owner]++;
    return n;
  }
  std::unique_ptr<LeaseCoordinator> Worker(const std::string& id) {
    return std::make_unique<LeaseCoordinator>(table.get(), &env,
                                              LeaseCoordinator::Options{id, kTimeout, {}});
  }
  void Sync() {
    ShardMapSeen known;
    REQUIRE(SyncLeases(store, "s", *table, StartPosition{}, &known).ok());
  }

  LocalGroupStore groups{&store};
  std::unique_ptr<LeaseTable> table;
};

}  // namespace

TEST_SUITE("group") {
  TEST_CASE("CheckpointTextRoundTripsAndSentinelsResumeWhereTheySay") {
    for (const char* text : {"TRIM_HORIZON", "LATEST", "SHARD_END", "18446744073709551617"}) {
      Checkpoint cp = Value(ParseCheckpoint(text, 0));
      CHECK(cp.ToString() == text);
    }
    Checkpoint at = Value(ParseCheckpoint("AT_TIMESTAMP", 1234));
    CHECK(at.ResumePosition().type == IteratorType::kAtTimestamp);
    CHECK(at.ResumePosition().timestamp_ms == 1234);
    StartPosition after = Checkpoint::Sequence(MakeSequenceNumber(2, 7)).ResumePosition();
    CHECK(after.type == IteratorType::kAfterSequenceNumber);
    CHECK(after.sequence == MakeSequenceNumber(2, 7));
    CHECK_FALSE(ParseCheckpoint("NEXT", 0).ok());
    CHECK_FALSE(InitialCheckpoint({IteratorType::kAtSequenceNumber, 1, 0}).ok());
  }

  TEST_CASE("LeaseTableJsonRoundTripsEveryField") {
    Lease a = Owned(3, "host:1 \"quoted\"", 1700000000000, {1, 2});
    a.counter = 42;
    a.owner_switches = 2;
    a.checkpoint = Checkpoint::Sequence(MakeSequenceNumber(3, 99));
    Lease b;
    b.shard = 0;
    b.checkpoint = {Checkpoint::Kind::kAtTimestamp, 0, 1700000000123};
    auto back = Value(DecodeLeases(EncodeLeases("s", "g", {a, b}), "leases.json"));
    REQUIRE(back.size() == 2);
    CHECK(back[0].shard == 0);  // sorted by shard
    CHECK(back[0].owner.empty());
    CHECK(back[0].checkpoint == b.checkpoint);
    CHECK(back[1].owner == a.owner);
    CHECK(back[1].counter == 42);
    CHECK(back[1].renewed_ms == a.renewed_ms);
    CHECK(back[1].timeout_ms == kTimeout);
    CHECK(back[1].owner_switches == 2);
    CHECK(back[1].parents == std::vector<uint64_t>{1, 2});
    CHECK(back[1].checkpoint == a.checkpoint);
    CHECK(DecodeLeases("{\"leases\": [{\"leaseKey\": 1}]}", "x").status().code() ==
          StatusCode::kCorruption);
  }

  TEST_CASE("ConditionalWritesApplyOnlyToTheCounterAndOwnerLastSeen") {
    GroupFixture f;
    CHECK(f.table->List().status().code() == StatusCode::kNotFound);
    CHECK(f.table->Apply({}).status().code() == StatusCode::kNotFound);
    f.Sync();
    REQUIRE(f.Leases().size() == 6);
    CHECK(Value(f.groups.ListGroups("s")) == std::vector<std::string>{"app"});

    Lease took = f.Leases()[0];
    took.owner = "w1";
    took.counter++;
    std::vector<LeaseUpdate> take = {{0, "", took}};
    CHECK(Value(f.table->Apply(take)) == std::vector<bool>{true});
    CHECK(Value(f.table->Apply(take)) == std::vector<bool>{false});  // counter moved on
    Lease stale = took;
    stale.owner = "w2";
    std::vector<LeaseUpdate> wrong_owner = {{took.counter, "w2", stale}};
    CHECK(Value(f.table->Apply(wrong_owner)) == std::vector<bool>{false});
    CHECK(f.Leases()[0].owner == "w1");

    // Adding again keeps what is there.
    Lease fresh;
    fresh.shard = 0;
    REQUIRE(f.table->Add(std::vector<Lease>{fresh}).ok());
    CHECK(f.Leases()[0].owner == "w1");
  }

  TEST_CASE("ResetAndDeleteAreRefusedWhileAWorkerIsLive") {
    GroupFixture f(2);
    f.Sync();
    Lease l = f.Leases()[1];
    l.owner = "w1";
    l.counter++;
    l.renewed_ms = f.env.NowMillis();
    l.timeout_ms = kTimeout;
    REQUIRE(Value(f.table->Apply(std::vector<LeaseUpdate>{{0, "", l}}))[0]);
    Status s = f.table->Delete(f.env.NowMillis());
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(s.message().find("w1") != std::string::npos);
    CHECK(f.table->Replace({}, f.env.NowMillis()).code() == StatusCode::kFailedPrecondition);
    f.env.Advance(kTimeout + 1);  // the lease expires
    REQUIRE(f.table->Delete(f.env.NowMillis()).ok());
    CHECK(f.table->List().status().code() == StatusCode::kNotFound);
    CHECK(Value(f.groups.ListGroups("s")).empty());
  }

  TEST_CASE("PlanTakesEverythingAloneAndStealsOneAtATimeToBalance") {
    const int64_t now = 1000;
    std::vector<Lease> free(6);
    for (uint64_t i = 0; i < 6; ++i) free[i].shard = i;
    CHECK(PlanAcquire(free, "w1", now).take.size() == 6);

    std::vector<Lease> all_w1;
    for (uint64_t i = 0; i < 6; ++i) all_w1.push_back(Owned(i, "w1", now));
    AcquirePlan p = PlanAcquire(all_w1, "w2", now);
    CHECK(p.take.empty());
    REQUIRE(p.steal.has_value());  // target 3, w1 holds 6

    // 2, 2, 0 of 4: the third worker needs 2 and steals one of a share-holder.
    std::vector<Lease> four = {Owned(0, "a", now), Owned(1, "a", now), Owned(2, "b", now),
                               Owned(3, "b", now)};
    CHECK(PlanAcquire(four, "c", now).steal.has_value());
    // 1, 2, 1 is balanced: nobody steals.
    four[1].owner = "c";
    CHECK_FALSE(PlanAcquire(four, "a", now).steal.has_value());
    CHECK_FALSE(PlanAcquire(four, "c", now).steal.has_value());
    CHECK(PlanAcquire(four, "b", now).take.empty());

    // Expired leases are free to take.
    CHECK(PlanAcquire(all_w1, "w2", now + kTimeout + 1).take.size() == 6);
  }

  TEST_CASE("ChildrenAreReadyOnlyOnceTheirParentsReachShardEnd") {
    const int64_t now = 1000;
    std::vector<Lease> leases = {Owned(0, "w1", now), Lease{}, Lease{}};
    leases[1].shard = 1;
    leases[1].parents = {0};
    leases[2].shard = 2;
    leases[2].parents = {0, 7};  // 7 has no lease: as good as finished
    CHECK_FALSE(LeaseReady(leases[1], leases));
    CHECK(PlanAcquire(leases, "w2", now).take.empty());
    leases[0].checkpoint = Checkpoint::ShardEnd();
    leases[0].owner.clear();
    CHECK_FALSE(LeaseReady(leases[0], leases));
    CHECK(LeaseReady(leases[1], leases));
    CHECK(PlanAcquire(leases, "w2", now).take == std::vector<uint64_t>{1, 2});
  }

  TEST_CASE("ThreeWorkersSettleAtTwoEachAndTakeOverADeadOnesLeases") {
    GroupFixture f;
    f.Sync();
    auto w1 = f.Worker("w1"), w2 = f.Worker("w2"), w3 = f.Worker("w3");
    REQUIRE(w1->Balance().ok());
    CHECK(w1->held_count() == 6);
    CHECK(w1->TakeAcquired().size() == 6);
    for (int round = 0; round < 12; ++round) {
      for (auto* w : {w1.get(), w2.get(), w3.get()}) REQUIRE(w->Balance().ok());
      f.env.Advance(kTimeout / 3);
    }
    CHECK(f.Counts() == std::map<std::string, int>{{"w1", 2}, {"w2", 2}, {"w3", 2}});
    CHECK(w1->TakeLost().size() == 4);  // stolen from, and told so

    // w3 dies: after its timeout the others take its leases, 3 each.
    for (int round = 0; round < 8; ++round) {
      for (auto* w : {w1.get(), w2.get()}) REQUIRE(w->Balance().ok());
      f.env.Advance(kTimeout / 3);
    }
    CHECK(f.Counts() == std::map<std::string, int>{{"w1", 3}, {"w2", 3}});
    // w3 wakes up: it can neither renew nor checkpoint what it held.
    f.env.Advance(kTimeout);
    REQUIRE(w3->RenewIfDue().ok());
    CHECK(w3->TakeLost().size() == 2);
    CHECK(w3->held_count() == 0);
  }

  TEST_CASE("AVictimOfAStealNoticesAtItsNextVerifyBeforeAnyRenewal") {
    GroupFixture f(2);
    f.Sync();
    auto w1 = f.Worker("w1"), w2 = f.Worker("w2");
    REQUIRE(w1->Balance().ok());
    REQUIRE(w2->Balance().ok());  // steals one: target 1 each
    CHECK(w2->held_count() == 1);
    REQUIRE(w1->RenewIfDue().ok());  // not due yet: nothing learnt
    CHECK(w1->held_count() == 2);
    REQUIRE(w1->Verify().ok());
    CHECK(w1->held_count() == 1);
    CHECK(w1->TakeLost().size() == 1);
  }

  TEST_CASE("ARestartUnderTheSameWorkerIdTakesItsLeasesBackWithoutWaiting") {
    GroupFixture f(4);
    f.Sync();
    auto before = f.Worker("w1");
    REQUIRE(before->Balance().ok());
    REQUIRE(before->held_count() == 4);
    auto other = f.Worker("w2");  // live leases of w1: only a steal
    REQUIRE(other->Balance().ok());
    CHECK(other->held_count() == 1);
    auto again = f.Worker("w1");  // w1 crashed and came back at once
    REQUIRE(again->Balance().ok());
    CHECK(again->held_count() == 3);
    CHECK(f.Counts() == std::map<std::string, int>{{"w1", 3}, {"w2", 1}});
  }

  TEST_CASE("ACheckpointOfALostLeaseIsRefusedAndReleaseFreesAtOnce") {
    GroupFixture f(2);
    f.Sync();
    auto w1 = f.Worker("w1"), w2 = f.Worker("w2");
    REQUIRE(w1->Balance().ok());
    f.env.Advance(kTimeout + 1);
    REQUIRE(w2->Balance().ok());  // w1 expired: w2 takes both
    CHECK(w2->held_count() == 2);
    const Checkpoint cp = Checkpoint::Sequence(MakeSequenceNumber(0, 5));
    std::vector<LeaseCoordinator::CheckpointWrite> write = {{0, cp, false}};
    REQUIRE(w1->Checkpoint(write).ok());
    CHECK(w1->TakeLost().size() == 1);
    CHECK(f.Leases()[0].checkpoint == Checkpoint{});
    REQUIRE(w2->Checkpoint(write).ok());
    CHECK(f.Leases()[0].checkpoint == cp);
    CHECK(f.Leases()[0].owner_switches == 0);
    REQUIRE(w2->ReleaseAll().ok());
    for (const Lease& l : f.Leases()) CHECK(l.owner.empty());
    REQUIRE(w1->Balance().ok());  // no waiting for an expiry
    CHECK(w1->held_count() == 2);
    CHECK(f.Leases()[0].checkpoint == cp);
  }

  TEST_CASE("NewGroupsStartWhereAskedAndChildrenFromTheirStart") {
    GroupFixture f(2);
    auto writer = Value(f.store.OpenWriter("s", SyncMode::kNever));
    for (int i = 0; i < 20; ++i) kstest::PutOne(*writer, "k" + std::to_string(i), "x");
    REQUIRE(f.store.SplitShard("s", 0, uint128(1) << 126).ok());
    auto latest = Value(InitialLeases(f.store, "s", {IteratorType::kLatest, 0, 0}));
    REQUIRE(latest.size() == 4);
    auto stats = Value(f.store.DescribeStream("s")).stats;
    CHECK(latest[0].checkpoint == Checkpoint::ShardEnd());  // closed by the split
    CHECK(latest[1].checkpoint == Checkpoint::Sequence(*stats[1].last_sequence));
    CHECK(latest[2].checkpoint == Checkpoint::Sequence(MakeSequenceNumber(2, 0)));  // empty
    CHECK(latest[2].parents == std::vector<uint64_t>{0});

    ShardMapSeen known;
    REQUIRE(SyncLeases(f.store, "s", *f.table, {IteratorType::kAtTimestamp, 0, 5}, &known).ok());
    CHECK(known.shards == 4);
    REQUIRE(f.store.SplitShard("s", 1, (uint128(1) << 127) + 5).ok());
    REQUIRE(SyncLeases(f.store, "s", *f.table, {IteratorType::kAtTimestamp, 0, 5}, &known).ok());
    auto leases = f.Leases();
    REQUIRE(leases.size() == 6);
    CHECK(leases[1].checkpoint.kind == Checkpoint::Kind::kAtTimestamp);
    CHECK(leases[4].checkpoint == Checkpoint{});  // a child: TRIM_HORIZON
    CHECK(leases[5].parents == std::vector<uint64_t>{1});
  }

}  // TEST_SUITE
