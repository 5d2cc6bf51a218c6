// LocalStreamWriter: routes records to shards by hash key and appends them
// through one ShardWriter per shard.
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "store/local_internal.h"
#include "store/local_store.h"

namespace kstream {
namespace {

class LocalStreamWriter final : public StreamWriter {
 public:
  LocalStreamWriter(LocalStore* store, std::string name, StreamMeta meta, SyncMode sync)
      : store_(store), name_(std::move(name)), sync_(sync) {
    SetMeta(std::move(meta));
  }

  Status Put(std::span<const PutRecord> records, std::vector<PutResult>& results) override {
    results.resize(records.size());
    pending_.clear();
    for (uint32_t i = 0; i < records.size(); ++i) pending_.push_back(i);
    // Normally one pass; another only when a reshard closed a shard under us.
    for (int attempt = 0; !pending_.empty(); ++attempt) {
      if (attempt > 100)
        return Status::FailedPrecondition("stream '" + name_ + "' keeps being resharded");
      KS_RETURN_IF_ERROR(AppendPending(records, results));
    }
    if (sync_ == SyncMode::kAlways) return Sync();
    return Status::Ok();
  }

  ~LocalStreamWriter() override {
    if (syncer_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        quit_ = true;
      }
      cv_.notify_one();
      syncer_.join();
    }
    if (event_fd_ >= 0) ::close(event_fd_);
  }

  Status Sync() override {
    if (sync_ == SyncMode::kNever) return Status::Ok();
    KS_ASSIGN_OR_RETURN(uint64_t ticket, BeginSync());
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return synced_ >= ticket || !sync_error_.ok(); });
    return sync_error_;
  }

  Result<uint64_t> BeginSync() override {
    if (sync_ == SyncMode::kNever) return ++requested_;
    if (!syncer_.joinable()) KS_RETURN_IF_ERROR(StartSyncer());
    std::vector<std::shared_ptr<AppendFile>> files;
    for (auto& [index, w] : writers_) w->CollectUnsynced(files);
    std::lock_guard<std::mutex> lock(mu_);
    KS_RETURN_IF_ERROR(sync_error_);
    jobs_.push_back({++requested_, std::move(files)});
    cv_.notify_one();
    return requested_;
  }

  Result<uint64_t> SyncedTicket() override {
    if (sync_ == SyncMode::kNever) return requested_;
    std::lock_guard<std::mutex> lock(mu_);
    KS_RETURN_IF_ERROR(sync_error_);
    return synced_;
  }

  int sync_event_fd() const override { return event_fd_; }

 private:
  void SetMeta(StreamMeta meta) {
    meta_ = std::move(meta);
    open_ = meta_.OpenShards();
    starts_.clear();
    for (const ShardMeta* s : open_) starts_.push_back(s->start_hash);
    by_shard_.assign(open_.size(), {});
  }

  size_t Route(const PutRecord& r) const {
    const uint128 h =
        r.explicit_hash_key ? *r.explicit_hash_key : HashPartitionKey(r.partition_key);
    // The open shards tile the hash space in order: the last start <= h.
    return size_t(std::upper_bound(starts_.begin(), starts_.end(), h) - starts_.begin()) - 1;
  }

  Result<ShardWriter*> WriterFor(uint64_t shard_index) {
    auto it = writers_.find(shard_index);
    if (it != writers_.end()) return it->second.get();
    KS_ASSIGN_OR_RETURN(auto w,
                        ShardWriter::Open(store_->env(), store_->ShardDir(name_, shard_index),
                                          store_->PolicyFor(meta_)));
    ShardWriter* raw = w.get();
    writers_.emplace(shard_index, std::move(w));
    return raw;
  }

  // Whether the stream still exists and shard_index is no longer open in it.
  bool ShardClosedSince(uint64_t shard_index) {
    auto meta = store_->ReadMetaFinished(name_);
    if (!meta.ok()) return false;
    const ShardMeta* shard = meta->FindShard(shard_index);
    return !shard || !shard->is_open();
  }

  // Appends every pending record; those that met a sealed shard stay pending
  // after the metadata is reloaded.
  Status AppendPending(std::span<const PutRecord> records, std::vector<PutResult>& results) {
    for (auto& v : by_shard_) v.clear();
    for (uint32_t i : pending_) by_shard_[Route(records[i])].push_back(i);
    pending_.clear();
    bool resharded = false;
    for (size_t s = 0; s < open_.size(); ++s) {
      const auto& idx = by_shard_[s];
      if (idx.empty()) continue;
      const uint64_t shard_index = open_[s]->index;
      entries_.clear();
      for (uint32_t i : idx)
        entries_.push_back(
            {records[i].partition_key, records[i].data, records[i].explicit_hash_key});
      KS_ASSIGN_OR_RETURN(ShardWriter * w, WriterFor(shard_index));
      auto appended = w->Append(entries_);
      if (!appended.ok()) {
        if (appended.status().code() == StatusCode::kFailedPrecondition) {
          resharded = true;
          pending_.insert(pending_.end(), idx.begin(), idx.end());
          continue;
        }
        if (appended.status().code() == StatusCode::kNotFound) {
          // A shard that was closed and then expired under an idle writer
          // has no files left: the map moved on, the stream did not go.
          if (!ShardClosedSince(shard_index))
            return Status::NotFound("stream '" + name_ + "' was deleted while writing");
          resharded = true;
          pending_.insert(pending_.end(), idx.begin(), idx.end());
          continue;
        }
        return appended.status();
      }
      for (size_t k = 0; k < idx.size(); ++k)
        results[idx[k]] = {shard_index,
                           MakeSequenceNumber(shard_index, appended->first_counter + k)};
    }
    if (resharded) {
      // Sync what went to soon-to-be-dropped writers of closed shards first.
      KS_RETURN_IF_ERROR(Sync());
      KS_ASSIGN_OR_RETURN(StreamMeta meta, store_->ReadMetaFinished(name_));
      writers_.clear();
      SetMeta(std::move(meta));
      std::sort(pending_.begin(), pending_.end());  // keep input order per key
    }
    return Status::Ok();
  }

  Status StartSyncer() {
    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ < 0) return Status::FromErrno("eventfd", errno);
    syncer_ = std::thread([this] { SyncLoop(); });
    return Status::Ok();
  }

  // The sync thread: fdatasyncs the files of each job in order, then
  // publishes the job's ticket and pokes the event fd.
  void SyncLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return quit_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // quitting with nothing left
      SyncJob job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      Status s;
      for (auto& f : job.files) {
        s = f->Sync();
        if (!s.ok()) break;
      }
      job.files.clear();
      lock.lock();
      if (s.ok())
        synced_ = job.ticket;
      else if (sync_error_.ok())
        sync_error_ = s;
      done_cv_.notify_all();
      const uint64_t one = 1;
      (void)!::write(event_fd_, &one, sizeof(one));
    }
  }

  struct SyncJob {
    uint64_t ticket;
    std::vector<std::shared_ptr<AppendFile>> files;
  };

  LocalStore* store_;
  std::string name_;
  SyncMode sync_;
  StreamMeta meta_;
  std::vector<const ShardMeta*> open_;  // by starting hash key
  std::vector<uint128> starts_;
  std::map<uint64_t, std::unique_ptr<ShardWriter>> writers_;
  std::vector<std::vector<uint32_t>> by_shard_;
  std::vector<uint32_t> pending_;
  std::vector<AppendEntry> entries_;

  // Background syncing (see StreamWriter::BeginSync).
  std::thread syncer_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<SyncJob> jobs_;  // guarded by mu_
  uint64_t requested_ = 0;    // last ticket handed out (writer thread)
  uint64_t synced_ = 0;       // guarded by mu_
  Status sync_error_;         // guarded by mu_
  bool quit_ = false;         // guarded by mu_
  int event_fd_ = -1;
};

}  // namespace

std::unique_ptr<StreamWriter> NewLocalStreamWriter(LocalStore* store, std::string name,
                                                   StreamMeta meta, SyncMode sync) {
  return std::make_unique<LocalStreamWriter>(store, std::move(name), std::move(meta), sync);
}

}  // namespace kstream
