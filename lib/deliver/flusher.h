// Flusher: writes a Deliverer's flushes on background threads, so reading,
// compressing and the fsyncs of several shards overlap, and commits them in
// groups, so a slow disk costs fewer fsyncs per file.
//
// A job (one flush of one shard: one file per prefix) goes through two steps:
//   stage   each part is compressed, written under the staging directory
//           and fdatasynced. Any thread, any order, several at once.
//   commit  per shard, in submission order, the staged jobs at the head of
//           the shard's queue together, holding the shard's lock file:
//           1. owns(shard) is asked (a worker that lost the shard makes
//              nothing visible: its next owner delivers those records);
//           2. a flush intent naming every staged file, its final name and
//              the last sequence number covered (intent.h) is written as
//              staging/<shardId>-<last>.intent and fdatasynced;
//           3. the staging directory is fsynced: staged files and intent
//              are durable together;
//           4. each staged file is renamed to its final name, and the
//              directories that changed (and new ones) are fsynced;
//           5. the previous intent of the shard is removed.
// No partial file ever carries a final name. Recover() is what the next
// owner of a shard runs first, under the same lock: it finishes the renames
// of the shard's newest readable intent (a torn one was never committed)
// and removes the shard's other staged files and older intents.
//
// The first job that fails stops the Flusher: staged files not committed
// are removed, jobs not yet staged are dropped (a later flush of a shard
// must never be visible without an earlier one), and every later call
// returns the error.
//
// Submit, Wait, Recover, TakeResults and failure are for one calling thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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
  SequenceNumber last;  // the last record of the shard the job covers
  std::vector<FlushPart> parts;
  LockFile* lock = nullptr;  // the shard's; outlives the job
};

struct FlushResult {
  uint64_t shard = 0;
  SequenceNumber last;
  bool published = false;  // false: the shard was no longer ours
};

class Flusher {
 public:
  struct Options {
    std::string dir;        // the target directory
    std::string state_dir;  // DIR/.kstream-deliver/GROUP: locks, staging/
    Compression compression = Compression::kNone;
    int level = 0;
    int threads = 4;
    size_t max_pending = 8;  // jobs not yet committed before Submit waits
    // Whether this worker still holds the shard's lease; called on the
    // flushing threads (thread-safe). Empty: always.
    std::function<Result<bool>(uint64_t shard)> owns;
  };

  static Result<std::unique_ptr<Flusher>> Create(Options options, Env* env);
  // Lets running steps finish; drops the rest (their staged files are
  // removed or left for Recover).
  ~Flusher();

  // Queues a job (waiting while max_pending are not committed). Returns the
  // Flusher's failure, if any, instead.
  Status Submit(FlushJob job);
  // Waits until no job of shard (or none at all) is left.
  void Wait(uint64_t shard);
  bool idle() const;
  // Results of the jobs committed since the last call.
  std::vector<FlushResult> TakeResults();
  Status failure() const;
  DeliverStats stats() const;
  // A buffer of a staged job, emptied, for the caller to fill again (its
  // pages are already mapped: cheaper than a new one). Empty if none.
  std::string TakeBuffer();

  // Takes over a shard no job of which is left here (see above).
  struct Recovered {
    bool ours = false;               // false: another worker holds the shard; nothing was touched
    std::optional<SequenceNumber> covered;  // the last sequence number the newest intent covers
  };
  Result<Recovered> Recover(uint64_t shard, LockFile* lock);
  const std::string& staging_dir() const { return staging_dir_; }

 private:
  struct Job {
    FlushJob job;
    enum class State { kQueued, kStaging, kStaged, kCommitting } state = State::kQueued;
    std::vector<FlushIntent::File> staged;
    DeliverStats add;
  };
  struct ShardQueue {
    std::deque<std::shared_ptr<Job>> jobs;  // submission order
    bool committing = false;
  };

  Flusher(Options options, Env* env);
  void Loop();
  // Under mu_: the next step to run, if any.
  bool NextStep(std::shared_ptr<Job>* stage, uint64_t* commit_shard,
                std::vector<std::shared_ptr<Job>>* commit);
  Status Stage(Job& job, Compressor& compressor);
  // Under mu_: keeps the emptied buffers of a staged job for TakeBuffer.
  void RecycleBuffers(Job& job);
  Status Commit(uint64_t shard, const std::vector<std::shared_ptr<Job>>& jobs, bool* published);
  // Renames what is still staged; fsyncs the directories it changed.
  Status Publish(const FlushIntent& intent);
  Status MakeDir(const std::string& dir);
  void RemoveStaged(const Job& job);
  // Under mu_: stops everything after a failure.
  void FailLocked(const Status& s);
  size_t pending_locked() const;

  Options o_;
  Env* env_;
  std::string staging_dir_;
  std::string token_;  // in staged names: unique to this Flusher
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<uint64_t, ShardQueue> shards_;
  std::deque<std::shared_ptr<Job>> to_stage_;  // submission order
  std::map<uint64_t, SequenceNumber> last_intent_;    // committed, to remove when superseded
  std::vector<FlushResult> results_;
  std::vector<std::string> spare_buffers_;
  Status failure_;
  DeliverStats stats_;
  bool stopping_ = false;
  int busy_ = 0;  // threads running a step
  std::mutex dirs_mu_;
  std::set<std::string> known_dirs_;  // created and synced by this process
};

// "shardId-000000000003-<last>.intent": the name of a shard's flush intent.
std::string IntentName(uint64_t shard, const SequenceNumber& last);

}  // namespace kstream
