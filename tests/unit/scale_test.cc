// Resharding plans, the crash-safe reshard protocol, and autoscaling decisions.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>

#include "scale/plan.h"
#include "scale/scaler.h"
#include "store/shard_writer.h"
#include "test_util.h"

using namespace kstream;
using namespace kstest;

namespace {

// The invariants every shard map must keep after every step.
void CheckLineage(const StreamMeta& m) {
  REQUIRE(CheckOpenShardsTile(m).ok());
  uint64_t previous = 0;
  bool first = true;
  for (const auto& s : m.shards) {
    if (!first) CHECK(s.index > previous);  // ids only grow
    first = false;
    previous = s.index;
    for (auto p : {s.parent, s.adjacent_parent}) {
      if (!p) continue;
      const ShardMeta* parent = m.FindShard(*p);
      REQUIRE(parent != nullptr);
      CHECK(!parent->is_open());
      CHECK(parent->index < s.index);  // so children's sequence numbers are higher
    }
    if (s.adjacent_parent) CHECK(s.parent.has_value());
  }
}

std::vector<std::pair<uint128, uint128>> OpenRanges(const StreamMeta& m) {
  std::vector<std::pair<uint128, uint128>> r;
  for (const ShardMeta* s : m.OpenShards()) r.push_back({s->start_hash, s->end_hash});
  return r;
}

std::vector<std::pair<uint128, uint128>> UniformRanges(int n) {
  std::vector<std::pair<uint128, uint128>> r;
  for (const auto& s : UniformShards(n, 0, 0)) r.push_back({s.start_hash, s.end_hash});
  return r;
}

StreamMeta FreshMeta(int shards) {
  StreamMeta m;
  m.name = "s";
  m.shards = UniformShards(shards, 0, 0);
  m.next_shard_index = uint64_t(shards);
  return m;
}

// A random split or merge on the simulated map; false if none was possible.
bool RandomStep(StreamMeta& m, std::mt19937_64& rng) {
  auto open = m.OpenShards();
  ReshardOp op;
  if (open.size() > 1 && rng() % 2) {
    const size_t i = rng() % (open.size() - 1);
    op.kind = ReshardOp::Kind::kMerge;
    op.shard_start = open[i]->start_hash;
    op.key = open[i + 1]->start_hash;
  } else {
    const ShardMeta* s = open[rng() % open.size()];
    const uint128 width = s->end_hash - s->start_hash;
    if (width < 4) return false;
    op.kind = ReshardOp::Kind::kSplit;
    op.shard_start = s->start_hash;
    op.key = s->start_hash + 2 + (uint128(rng()) << 64 | rng()) % (width - 2);
  }
  return SimulateOp(m, op).ok();
}

}  // namespace

TEST_SUITE("scale") {
  TEST_CASE("RandomSplitsMergesAndResizesKeepTilingAndLineage") {
    std::mt19937_64 rng(42);
    for (int round = 0; round < 20; ++round) {
      StreamMeta m = FreshMeta(1 + int(rng() % 5));
      for (int step = 0; step < 40; ++step) {
        if (rng() % 5 == 0) {
          const int target = 1 + int(rng() % 24);
          StreamMeta after;
          for (auto& op : PlanUniformResize(m, target, &after)) CHECK(op.children.size() >= 1);
          m = after;
          CHECK(OpenRanges(m) == UniformRanges(target));
        } else {
          RandomStep(m, rng);
        }
        CheckLineage(m);
      }
    }
  }

  TEST_CASE("UniformResizeReachesExactlyEqualRanges") {
    for (int from : {1, 2, 3, 4, 7, 64}) {
      for (int to : {1, 2, 3, 5, 8, 13, 64}) {
        StreamMeta after;
        auto ops = PlanUniformResize(FreshMeta(from), to, &after);
        CHECK(OpenRanges(after) == UniformRanges(to));
        CheckLineage(after);
        if (from == to) CHECK(ops.empty());
        if (to == 2 * from) CHECK(ops.size() == size_t(from));  // one midpoint split each
        if (from == 2 * to) CHECK(ops.size() == size_t(to));    // one merge per pair
      }
    }
  }

  TEST_CASE("ResizeUsesBalancedSplitsNotAChain") {
    StreamMeta after;
    PlanUniformResize(FreshMeta(1), 64, &after);
    // Depth of the lineage tree: log2(64) = 6 levels below the root.
    std::map<uint64_t, int> depth;
    int deepest = 0;
    for (const auto& s : after.shards) {
      depth[s.index] = s.parent ? depth[*s.parent] + 1 : 0;
      deepest = std::max(deepest, depth[s.index]);
    }
    CHECK(deepest == 6);
  }

  TEST_CASE("ScaleTargetsFollowTheIssue") {
    auto up = [](int open, std::optional<int> c, std::optional<double> p) {
      return Value(ScaleTarget(open, ScaleDirection::kUp, c, p));
    };
    auto down = [](int open, std::optional<int> c, std::optional<double> p) {
      return Value(ScaleTarget(open, ScaleDirection::kDown, c, p));
    };
    CHECK(up(4, 2, std::nullopt) == 6);
    CHECK(up(4, std::nullopt, 100.0) == 8);  // --pct 100 doubles
    CHECK(up(3, std::nullopt, 50.0) == 5);   // 4.5 rounded up
    CHECK(up(1, std::nullopt, 15.0) == 2);
    CHECK(down(6, std::nullopt, 50.0) == 3);
    CHECK(down(10, std::nullopt, 20.0) == 8);
    CHECK(down(5, std::nullopt, 10.0) == 4);  // 4.5 rounded down
    CHECK(down(3, 5, std::nullopt) == 1);     // never below 1
    CHECK(down(2, std::nullopt, 100.0) == 1);
    CHECK(!ScaleTarget(4, ScaleDirection::kUp, 0, std::nullopt).ok());
    CHECK(!ScaleTarget(4, ScaleDirection::kUp, std::nullopt, 0.0).ok());
    CHECK(!ScaleTarget(4, ScaleDirection::kUp, 1, 1.0).ok());
    CHECK(!ScaleTarget(4, ScaleDirection::kDown, std::nullopt, 101.0).ok());
  }

  TEST_CASE("ExecutedResizeMatchesThePlanAndKeepsEveryRecord") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 3, 24).ok());
    auto w = Value(f.store.OpenWriter("s", SyncMode::kNever));
    for (int i = 0; i < 300; ++i) PutOne(*w, "k" + std::to_string(i % 17), std::to_string(i));
    for (int target : {7, 2, 16, 1}) {
      StreamMeta before = Value(f.store.ListShards("s")), predicted;
      auto ops = PlanUniformResize(before, target, &predicted);
      REQUIRE(ExecuteOps(f.store, "s", ops, nullptr).ok());
      StreamMeta after = Value(f.store.ListShards("s"));
      CheckLineage(after);
      CHECK(OpenRanges(after) == UniformRanges(target));
      CHECK(after.shards.size() == predicted.shards.size());  // the same ids were assigned
      for (int i = 0; i < 50; ++i) PutOne(*w, "k" + std::to_string(i % 17), "after");
    }
    size_t total = 0;
    for (const auto& s : Value(f.store.ListShards("s")).shards)
      total += ReadShard(f.store, "s", s.index).size();
    CHECK(total == 300 + 4 * 50);
  }

  TEST_CASE("ReshardInterruptedAfterItsIntentIsFinishedByTheNextReader") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 2, 24).ok());
    auto w = Value(f.store.OpenWriter("s", SyncMode::kNever));
    const uint128 low_key = 5;  // explicit hash keys pin records to shard 0
    PutOne(*w, "a", "before", low_key);
    // What a resharder killed between its first and second step leaves: the
    // intent recorded, and (in the second variant) the parent sealed.
    for (bool sealed : {false, true}) {
      StreamMeta m = Value(f.store.ReadMeta("s"));
      const uint64_t parent = m.OpenShards()[0]->index;
      const uint128 mid = m.FindShard(parent)->end_hash / 2;
      m.pending = Value(PlanSplit(m, parent, mid, f.env.NowMillis()));
      for (const auto& c : m.pending->open) m.next_shard_index = c.index + 1;
      REQUIRE(
          f.env.WriteFileAtomic(f.store.StreamDir("s") + "/stream.json", EncodeStreamMeta(m)).ok());
      if (sealed) {
        auto sw = Value(ShardWriter::Open(&f.env, f.store.ShardDir("s", parent), {}));
        REQUIRE(sw->Seal().ok());
      }
      // A writer holding the old map hits the seal (or not) and must end up in
      // a child either way; the stream reads back complete and parent-first.
      const PutResult put = PutOne(*w, "a", sealed ? "after-seal" : "after-intent", low_key);
      StreamMeta now = Value(f.store.ListShards("s"));
      CHECK(!now.pending);
      CHECK(!now.FindShard(parent)->is_open());
      CheckLineage(now);
      if (sealed) CHECK(now.FindShard(put.shard_index)->is_open());  // rerouted to a child
      // Unsealed, the stale writer could still append to the parent before the
      // reshard was finished; the parent is read before its children anyway.
    }
    size_t total = 0;
    for (const auto& s : Value(f.store.ListShards("s")).shards)
      total += ReadShard(f.store, "s", s.index).size();
    CHECK(total == 3);
  }

  TEST_CASE("AutoscaleScalesUpUnderSustainedLoadDownWhenIdleAndCoolsOff") {
    TestStore f;
    REQUIRE(f.store.CreateStream("s", 2, 24).ok());
    auto w = Value(f.store.OpenWriter("s", SyncMode::kNever));
    AutoscaleOptions o;
    o.period_ms = 4000;
    o.sample_ms = 1000;
    o.cool_off_ms = 10000;
    // 1,800 records per second on 2 shards: 90% of 2,000 records/s.
    for (int second = 0; second < 4; ++second) {
      for (int i = 0; i < 1800; ++i) PutOne(*w, "k" + std::to_string(i), "x");
      f.env.Advance(1000);
    }
    Decision d = Value(DecideAutoscale(f.store, "s", o, f.env.NowMillis()));
    CHECK(d.action == Decision::Action::kUp);
    CHECK(d.target == 4);
    REQUIRE(d.samples.size() == 4);
    for (const auto& s : d.samples) CHECK(s.utilisation_pct == doctest::Approx(90).epsilon(0.01));
    CHECK(d.reason.find("scale up to 4") != std::string::npos);

    // One quiet second breaks "sustained": no change.
    f.env.Advance(1000);
    d = Value(DecideAutoscale(f.store, "s", o, f.env.NowMillis()));
    CHECK(d.action == Decision::Action::kNone);

    // Idle: down by half, unless a reshard happened within the cool-off.
    f.env.Advance(5000);
    REQUIRE(f.store.SplitShard("s", 0, kMaxHashKey / 4).ok());
    d = Value(DecideAutoscale(f.store, "s", o, f.env.NowMillis()));
    CHECK(d.action == Decision::Action::kNone);
    CHECK(d.reason.find("cooling off") != std::string::npos);
    f.env.Advance(11000);
    d = Value(DecideAutoscale(f.store, "s", o, f.env.NowMillis()));
    CHECK(d.action == Decision::Action::kDown);
    CHECK(d.open == 3);
    CHECK(d.target == 1);  // 3 - 50% = 1.5, rounded down
  }
}
