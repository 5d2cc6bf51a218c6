// A fault at every write point, one at a time: puts (with segment rolls),
// reshards (split and merge) and consumer-group checkpoints are run again
// and again, the N-th file operation failing each time (ENOSPC with a short
// write, EIO, EIO on a read, or a crash that loses every unsynced byte),
// until a run gets through without reaching the fault.
//
// After each fault, the code under test must have returned an error (not
// crashed, not reported success for what failed), and the store, reopened
// on the plain POSIX Env, must hold every acknowledged record with its data,
// no damaged frame, open shards that tile the key space, and take new
// records.
#include <doctest/doctest.h>

#include <map>

#include "consume/lease.h"
#include "fault_env.h"
#include "store/local_lease_table.h"
#include "store/local_store.h"
#include "test_util.h"

using namespace kstream;
using namespace kstest;

namespace {

constexpr int64_t kMaxPoints = 5000;  // bounds each matrix; a scenario has far fewer

struct Acked {
  std::map<std::pair<uint64_t, SequenceNumber>, std::string> records;  // (shard, seq) -> data
};

// Puts `batches` batches of 7 records with keys spread over the shards;
// stops at the first error, which it returns. Records of a batch that
// returned ok are acknowledged.
Status PutBatches(StreamWriter& writer, int batches, int& next, Acked& acked) {
  std::vector<std::string> data;
  std::vector<std::string> keys;
  std::vector<PutRecord> batch;
  std::vector<PutResult> results;
  for (int b = 0; b < batches; ++b) {
    data.clear();
    keys.clear();
    batch.clear();
    for (int i = 0; i < 7; ++i, ++next) {
      keys.push_back("key-" + std::to_string(next % 13));
      data.push_back("record-" + std::to_string(next) + "-" + std::string(next % 90, 'x'));
    }
    for (int i = 0; i < 7; ++i) batch.push_back({keys[i], data[i], std::nullopt});
    KS_RETURN_IF_ERROR(writer.Put(batch, results));
    for (int i = 0; i < 7; ++i)
      acked.records[{results[i].shard_index, results[i].sequence}] = data[i];
  }
  return Status::Ok();
}

// The checks after a fault, on a store reopened on the plain Env.
void CheckStore(const std::string& root, const Acked& acked, bool /*fired*/) {
  LocalStore store(Env::Default(), root);
  const StreamMeta meta = Value(store.ReadMetaFinished("s"));
  CHECK(CheckOpenShardsTile(meta).ok());
  std::map<std::pair<uint64_t, SequenceNumber>, std::string> found;
  for (const ShardMeta& shard : meta.shards) {
    auto cursor = Value(store.OpenCursor("s", shard.index, {}));
    for (const Rec& r : ReadAll(*cursor)) found[{shard.index, r.sequence}] = r.data;
    CHECK_MESSAGE(cursor->corrupt_records() == 0, "damaged frames in shard ", shard.index);
  }
  for (const auto& record : acked.records) {  // no structured binding: clang 14 cannot capture it
    auto it = found.find(record.first);
    REQUIRE_MESSAGE(it != found.end(), "acknowledged record lost: ", record.second);
    CHECK(it->second == record.second);
  }
  // The store takes new records, and they read back.
  auto writer = Value(store.OpenWriter("s", SyncMode::kAlways));
  const PutResult r = PutOne(*writer, "after", "after-the-fault");
  auto cursor =
      Value(store.OpenCursor("s", r.shard_index, {IteratorType::kAtSequenceNumber, r.sequence, 0}));
  const auto recs = ReadAll(*cursor);
  REQUIRE(!recs.empty());
  CHECK(recs.front().data == "after-the-fault");
}

// Runs scenario(store, acked) on a fresh two-shard stream with a fault at
// point 0, 1, 2, ... and after each run check(root, acked, status, fired),
// until a run reaches no fault. Returns the number of faults injected.
template <typename Scenario, typename Check>
int64_t EveryPoint(Fault fault, Scenario scenario, Check check) {
  int64_t point = 0;
  for (; point < kMaxPoints; ++point) {
    CAPTURE(point);
    TempDir dir;
    {
      LocalStore setup(Env::Default(), dir.path());
      REQUIRE(setup.CreateStream("s", 2, 24).ok());
    }
    FaultPlanEnv env(point, fault);
    Acked acked;
    Status status;
    {
      LocalStore store(&env, dir.path());
      store.set_max_segment_bytes(1500);  // rolls every few batches
      status = scenario(store, acked);
    }
    const bool fired = env.fired();
    // A fault that fired is reported, never swallowed into a success. (A
    // read fault may be retried past, or hit only a hint: then the run
    // completes.)
    if (fired && fault != Fault::kReadError)
      REQUIRE_MESSAGE(!status.ok(), "a fault at point ", point, " was not reported");
    if (fired && !status.ok())
      CHECK_MESSAGE(status.message().find(FaultPlanEnv::kMarker) != std::string::npos,
                    "reported error is not the injected one: ", status.message());
    if (!fired) REQUIRE_MESSAGE(status.ok(), status.message());
    if (fault == Fault::kCrash) env.DropUnsynced();
    check(dir.path(), acked, fired);
    if (!fired) break;  // every point of the scenario was tried
  }
  REQUIRE(point < kMaxPoints);
  return point;
}

Status PutScenario(LocalStore& store, Acked& acked) {
  KS_ASSIGN_OR_RETURN(auto writer, store.OpenWriter("s", SyncMode::kAlways));
  int next = 0;
  return PutBatches(*writer, 12, next, acked);
}

Status ReshardScenario(LocalStore& store, Acked& acked) {
  int next = 0;
  {
    KS_ASSIGN_OR_RETURN(auto writer, store.OpenWriter("s", SyncMode::kAlways));
    KS_RETURN_IF_ERROR(PutBatches(*writer, 3, next, acked));
  }
  KS_RETURN_IF_ERROR(store.SplitShard("s", 0, kMaxHashKey / 4));
  {
    KS_ASSIGN_OR_RETURN(auto writer, store.OpenWriter("s", SyncMode::kAlways));
    KS_RETURN_IF_ERROR(PutBatches(*writer, 3, next, acked));
  }
  KS_RETURN_IF_ERROR(store.MergeShards("s", 2, 3));  // the two children of shard 0
  KS_ASSIGN_OR_RETURN(auto writer, store.OpenWriter("s", SyncMode::kAlways));
  return PutBatches(*writer, 3, next, acked);
}

}  // namespace

TEST_SUITE("store") {
  TEST_CASE("AFaultAtEveryWritePointOfAPutLosesNoAcknowledgedRecord") {
    for (Fault fault : {Fault::kNoSpace, Fault::kIOError, Fault::kCrash, Fault::kReadError}) {
      CAPTURE(int(fault));
      const int64_t points = EveryPoint(fault, PutScenario, CheckStore);
      MESSAGE("put: ", points, " fault points of kind ", int(fault));
      CHECK(points > (fault == Fault::kReadError ? 3 : 10));
    }
  }

  TEST_CASE("AFaultAtEveryWritePointOfAReshardLeavesAConsistentStream") {
    for (Fault fault : {Fault::kNoSpace, Fault::kIOError, Fault::kCrash, Fault::kReadError}) {
      CAPTURE(int(fault));
      const int64_t points = EveryPoint(fault, ReshardScenario, CheckStore);
      MESSAGE("reshard: ", points, " fault points of kind ", int(fault));
      CHECK(points > 10);
    }
  }

  TEST_CASE("AFaultAtEveryWritePointOfACheckpointKeepsTheOldOrTheNewOne") {
    for (Fault fault : {Fault::kNoSpace, Fault::kIOError, Fault::kCrash, Fault::kReadError}) {
      CAPTURE(int(fault));
      uint128 acked_checkpoint = 0;
      uint128 attempted = 0;
      auto scenario = [&](LocalStore& store, Acked&) -> Status {
        acked_checkpoint = attempted = 0;
        LocalGroupStore groups(&store);
        KS_ASSIGN_OR_RETURN(auto table, groups.OpenLeaseTable("s", "app"));
        Lease lease;
        lease.shard = 0;
        KS_RETURN_IF_ERROR(table->Add({&lease, 1}));
        for (int i = 1; i <= 8; ++i) {
          KS_ASSIGN_OR_RETURN(auto leases, table->List());
          LeaseUpdate update{leases[0].counter, leases[0].owner, leases[0]};
          update.lease.counter++;
          update.lease.checkpoint = Checkpoint::Sequence(uint128(i) * 1000);
          attempted = uint128(i) * 1000;
          KS_ASSIGN_OR_RETURN(auto applied, table->Apply({&update, 1}));
          if (!applied[0]) return Status::FailedPrecondition("checkpoint not applied");
          acked_checkpoint = attempted;
        }
        return Status::Ok();
      };
      auto check = [&](const std::string& root, const Acked&, bool fired) {
        LocalStore store(Env::Default(), root);
        LocalGroupStore groups(&store);
        auto table = Value(groups.OpenLeaseTable("s", "app"));
        auto leases = table->List();
        if (!fired) {
          CHECK(Value(std::move(leases))[0].checkpoint == Checkpoint::Sequence(8000));
          return;
        }
        if (!leases.ok()) {
          // The fault came before the table was first written.
          CHECK(leases.status().code() == StatusCode::kNotFound);
          CHECK(acked_checkpoint == 0);
          return;
        }
        const Checkpoint stored = (*leases)[0].checkpoint;
        CHECK_MESSAGE(
            (stored == Checkpoint::Sequence(acked_checkpoint) ||
             stored == Checkpoint::Sequence(attempted) ||
             (acked_checkpoint == 0 && stored.kind == Checkpoint::Kind::kTrimHorizon)),
            "checkpoint is neither the acknowledged nor the attempted one: ", stored.ToString());
      };
      const int64_t point = EveryPoint(fault, scenario, check);
      MESSAGE("checkpoint: ", point, " fault points of kind ", int(fault));
      CHECK(point > 3);
    }
  }
}
