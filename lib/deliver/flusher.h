// Flusher: writes a Deliverer's flushes on background threads, so reading,
// compressing and the fsyncs of several shards overlap. Jobs of one shard
// run one at a time, in the order submitted; jobs of different shards run in
// parallel.
//
// A job makes its files visible exactly once (see intent.h):
//   1. each part is compressed and written under the staging directory,
//      fdatasynced, and the staging directory fsynced;
//   2. owns(shard) is asked (a worker that lost the shard writes nothing);
//   3. the flush intent is written atomically;
//   4. each staged file is renamed to its final name; the directories that
//      changed (and those created) are fsynced.
// Steps 1-4 hold the shard's lock file, which the next owner of the shard
// also takes to read the intent (Deliverer::Recover), so an intent is never
// read half-done.
//
// The first job that fails stops the Flusher: its staged files are removed,
// jobs not yet started are dropped (a later flush of a shard must never be
// visible without an earlier one), and every later call returns the error.
//
// Submit, Wait, TakeResults and failure are for one calling thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/env.h"
#include "deliver/compress.h"
#include "deliver/intent.h"

namespace kstream {

struct DeliverStats {
  uint64_t records = 0;        // in visible files
  uint64_t error_records = 0;  // of those, under the error prefix
  uint64_t bytes_in = 0;       // file contents before compression
  uint64_t bytes_out = 0;      // file sizes
  uint64_t files = 0;
  int64_t newest_arrival_ms = 0;  // of the records handed over, for the lag
};

struct FlushPart {
  std::string final;  // path under the target directory
  std::string bytes;  // uncompressed contents
  uint64_t records = 0;
  bool errors = false;  // under the error prefix
};

struct FlushJob {
  uint64_t shard = 0;
  uint128 last = 0;  // the last record of the shard the job covers
  std::vector<FlushPart> parts;
  LockFile* lock = nullptr;  // the shard's; outlives the job
};

struct FlushResult {
  uint64_t shard = 0;
  uint128 last = 0;
  bool published = false;  // false: the shard was no longer ours
};

class Flusher {
 public:
  struct Options {
    std::string dir;        // the target directory
    std::string state_dir;  // DIR/.kstream-deliver/GROUP: intents, locks, staging/
    Compression compression = Compression::kNone;
    int level = 0;
    int threads = 2;
    size_t max_pending = 4;  // jobs queued or running before Submit waits
    // Whether this worker still holds the shard's lease; called on the
    // flushing threads (thread-safe). Empty: always.
    std::function<Result<bool>(uint64_t shard)> owns;
  };

  static Result<std::unique_ptr<Flusher>> Create(Options options, Env* env);
  // Lets running jobs finish; drops queued ones.
  ~Flusher();

  // Queues a job (waiting while max_pending are queued or running). Returns
  // the Flusher's failure, if any, instead.
  Status Submit(FlushJob job);
  // Waits until no job of shard (or none at all) is queued or running.
  void Wait(uint64_t shard);
  void WaitAll();
  bool idle() const;
  // Results of the jobs finished since the last call, in finishing order.
  std::vector<FlushResult> TakeResults();
  Status failure() const;
  DeliverStats stats() const;
  // A buffer of a finished job, emptied, for the caller to fill again (its
  // pages are already mapped: cheaper than a new one). Empty if none.
  std::string TakeBuffer();

  // Step 4 for an intent read back after a crash: renames what is still
  // staged (the rest was renamed before). Callable from any thread.
  Status Publish(const FlushIntent& intent);
  std::string IntentPath(uint64_t shard) const;
  const std::string& staging_dir() const { return staging_dir_; }

 private:
  Flusher(Options options, Env* env);
  void Loop();
  // Runs steps 1-4; false in *published when the shard was not ours.
  Status Run(const FlushJob& job, Compressor& compressor, std::string& compressed, bool* published,
             DeliverStats& add);
  Status MakeDir(const std::string& dir);
  size_t pending_locked() const { return queue_.size() + running_.size(); }

  Options o_;
  Env* env_;
  std::string staging_dir_;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<FlushJob> queue_;
  std::multiset<uint64_t> running_;  // shards of the jobs being run
  std::vector<FlushResult> results_;
  std::vector<std::string> spare_buffers_;
  Status failure_;
  DeliverStats stats_;
  bool stopping_ = false;
  std::mutex dirs_mu_;
  std::set<std::string> known_dirs_;  // created and synced by this process
};

}  // namespace kstream
