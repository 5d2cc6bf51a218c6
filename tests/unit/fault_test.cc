// Injected file-system faults through the Env seam: a disk that fills up in
// the middle of a batch (a short write, then ENOSPC) and a failing fsync.
// After each, the store must hold every acknowledged record, undamaged, and
// a new writer must carry on after cutting the torn tail.
#include <doctest/doctest.h>

#include <set>

#include "store/local_store.h"
#include "test_util.h"

using namespace kstream;
using namespace kstest;

namespace {

// Shared state of the faults: how many more bytes segment appends may write
// before the disk is "full", and whether fsync fails.
struct Faults {
  int64_t bytes_left = INT64_MAX;
  bool fail_sync = false;
};

class FaultyFile final : public AppendFile {
 public:
  FaultyFile(std::unique_ptr<AppendFile> f, Faults* faults) : f_(std::move(f)), faults_(faults) {}
  Result<uint64_t> Size() override { return f_->Size(); }
  Result<size_t> ReadAt(uint64_t o, size_t n, char* b) override { return f_->ReadAt(o, n, b); }
  const std::string& path() const override { return f_->path(); }
  Result<State> Stat() override { return f_->Stat(); }
  Status Truncate(uint64_t size) override { return f_->Truncate(size); }
  Status Append(std::string_view data) override {
    if (int64_t(data.size()) <= faults_->bytes_left) {
      faults_->bytes_left -= int64_t(data.size());
      return f_->Append(data);
    }
    // What a real full disk does: part of the write lands, then ENOSPC.
    const size_t part = size_t(std::max<int64_t>(0, faults_->bytes_left));
    faults_->bytes_left = 0;
    if (part) (void)f_->Append(data.substr(0, part));
    return Status::IOError("write " + f_->path() + ": No space left on device");
  }
  Status Sync() override {
    if (faults_->fail_sync) return Status::IOError("fsync " + f_->path() + ": Input/output error");
    return f_->Sync();
  }

 private:
  std::unique_ptr<AppendFile> f_;
  Faults* faults_;
};

class FaultyEnv final : public EnvWrapper {
 public:
  explicit FaultyEnv(Faults* faults) : EnvWrapper(Env::Default()), faults_(faults) {}
  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path, bool create) override {
    KS_ASSIGN_OR_RETURN(auto f, target()->OpenAppend(path, create));
    if (path.size() < 4 || path.substr(path.size() - 4) != ".seg") return f;  // index hints
    return std::unique_ptr<AppendFile>(new FaultyFile(std::move(f), faults_));
  }

 private:
  Faults* faults_;
};

std::vector<PutRecord> Batch(std::vector<std::string>& storage, int first, int count) {
  storage.clear();
  for (int i = first; i < first + count; ++i) storage.push_back("record-" + std::to_string(i));
  std::vector<PutRecord> batch;
  for (const auto& s : storage) batch.push_back({"key", s, std::nullopt});
  return batch;
}

// Every record of every shard, read by a store on the plain POSIX Env.
std::multiset<std::string> ReadEverything(const std::string& root) {
  LocalStore store(Env::Default(), root);
  std::multiset<std::string> all;
  for (const auto& s : Value(store.ListShards("s")).shards)
    for (const auto& r : ReadShard(store, "s", s.index)) all.insert(r.data);
  return all;
}

}  // namespace

TEST_SUITE("store") {
  TEST_CASE("DiskFullInTheMiddleOfABatchLosesNoAcknowledgedRecord") {
    for (int64_t budget : {0, 1, 40, 1000, 3000}) {
      CAPTURE(budget);
      TempDir dir;
      Faults faults;
      FaultyEnv env(&faults);
      LocalStore store(&env, dir.path());
      REQUIRE(store.CreateStream("s", 1, 24).ok());
      auto w = Value(store.OpenWriter("s", SyncMode::kAlways));
      std::vector<std::string> storage;
      std::vector<PutResult> results;
      std::set<std::string> acknowledged, attempted;
      int next = 0;
      REQUIRE(w->Put(Batch(storage, next, 100), results).ok());
      for (int i = 0; i < 100; ++i) acknowledged.insert("record-" + std::to_string(next + i));
      next += 100;

      faults.bytes_left = budget;  // the disk fills up during the next batch
      Status s = w->Put(Batch(storage, next, 100), results);
      CHECK(!s.ok());
      CHECK(s.message().find("No space left") != std::string::npos);
      for (int i = 0; i < 100; ++i) attempted.insert("record-" + std::to_string(next + i));
      next += 100;

      // Nothing acknowledged is missing; nothing else but whole records of
      // the failed batch (the caller saw an error and may retry) appears.
      auto all = ReadEverything(dir.path());
      for (const auto& a : acknowledged) CHECK(all.count(a) == 1);
      for (const auto& r : all) CHECK((acknowledged.count(r) + attempted.count(r)) == 1);

      // Space is back: a new writer cuts the torn tail and appends after it.
      faults.bytes_left = INT64_MAX;
      auto w2 = Value(store.OpenWriter("s", SyncMode::kAlways));
      REQUIRE(w2->Put(Batch(storage, next, 10), results).ok());
      auto after = ReadEverything(dir.path());
      CHECK(after.size() == all.size() + 10);
      for (int i = 0; i < 10; ++i) CHECK(after.count("record-" + std::to_string(next + i)) == 1);
      // The sequence numbers continue without a gap in the counter.
      auto recs = ReadShard(store, "s", 0);
      for (size_t i = 1; i < recs.size(); ++i) CHECK(recs[i].sequence == recs[i - 1].sequence + 1);
    }
  }

  TEST_CASE("AFailedFsyncIsReportedAndNoRecordAfterItCountsAsWritten") {
    TempDir dir;
    Faults faults;
    FaultyEnv env(&faults);
    LocalStore store(&env, dir.path());
    REQUIRE(store.CreateStream("s", 2, 24).ok());
    auto w = Value(store.OpenWriter("s", SyncMode::kBatch));
    std::vector<std::string> storage;
    std::vector<PutResult> results;
    REQUIRE(w->Put(Batch(storage, 0, 50), results).ok());
    REQUIRE(w->Sync().ok());
    faults.fail_sync = true;
    REQUIRE(w->Put(Batch(storage, 50, 50), results).ok());  // written, not yet durable
    Status s = w->Sync();
    CHECK(!s.ok());
    CHECK(s.message().find("fsync") != std::string::npos);
    // The failure sticks: a later group commit cannot claim durability.
    faults.fail_sync = false;
    auto ticket = w->BeginSync();
    CHECK((!ticket.ok() || !w->SyncedTicket().ok()));
    CHECK(!w->Sync().ok());
  }
}
