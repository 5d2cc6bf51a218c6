// LocalStreamWriter: routes records to shards by hash key and appends them
// through one ShardWriter per shard.
#include <algorithm>
#include <map>

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

  Status Sync() override {
    if (sync_ == SyncMode::kNever) return Status::Ok();
    for (auto& [index, w] : writers_) KS_RETURN_IF_ERROR(w->Sync());
    return Status::Ok();
  }

 private:
  void SetMeta(StreamMeta meta) {
    meta_ = std::move(meta);
    open_ = meta_.OpenShards();
    starts_.clear();
    for (const ShardMeta* s : open_) starts_.push_back(s->start_hash);
    by_shard_.assign(open_.size(), {});
  }

  size_t Route(const PutRecord& r) const {
    const uint128 h = r.explicit_hash_key ? *r.explicit_hash_key : HashPartitionKey(r.partition_key);
    // The open shards tile the hash space in order: the last start <= h.
    return size_t(std::upper_bound(starts_.begin(), starts_.end(), h) - starts_.begin()) - 1;
  }

  Result<ShardWriter*> WriterFor(uint64_t shard_index) {
    auto it = writers_.find(shard_index);
    if (it != writers_.end()) return it->second.get();
    KS_ASSIGN_OR_RETURN(auto w, ShardWriter::Open(store_->env(), store_->ShardDir(name_, shard_index),
                                                  store_->PolicyFor(meta_)));
    ShardWriter* raw = w.get();
    writers_.emplace(shard_index, std::move(w));
    return raw;
  }

  // Appends every pending record; those that met a sealed shard stay pending
  // after the metadata is reloaded.
  Status AppendPending(std::span<const PutRecord> records, std::vector<PutResult>& results) {
    for (auto& v : by_shard_) v.clear();
    for (uint32_t i : pending_) by_shard_[Route(records[i])].push_back(i);
    pending_.clear();
    bool resharded = false;
    std::optional<uint64_t> sealed_shard;
    for (size_t s = 0; s < open_.size(); ++s) {
      const auto& idx = by_shard_[s];
      if (idx.empty()) continue;
      const uint64_t shard_index = open_[s]->index;
      entries_.clear();
      for (uint32_t i : idx)
        entries_.push_back({records[i].partition_key, records[i].data, records[i].explicit_hash_key});
      KS_ASSIGN_OR_RETURN(ShardWriter * w, WriterFor(shard_index));
      auto appended = w->Append(entries_);
      if (!appended.ok()) {
        if (appended.status().code() == StatusCode::kFailedPrecondition) {
          resharded = true;
          sealed_shard = shard_index;
          pending_.insert(pending_.end(), idx.begin(), idx.end());
          continue;
        }
        if (appended.status().code() == StatusCode::kNotFound)
          return Status::NotFound("stream '" + name_ + "' was deleted while writing");
        return appended.status();
      }
      for (size_t k = 0; k < idx.size(); ++k)
        results[idx[k]] = {shard_index, MakeSequenceNumber(shard_index, appended->first_counter + k)};
    }
    if (resharded) {
      // Sync what went to soon-to-be-dropped writers of closed shards first.
      KS_RETURN_IF_ERROR(Sync());
      KS_ASSIGN_OR_RETURN(StreamMeta meta, store_->ReloadAfterSeal(name_, *sealed_shard));
      writers_.clear();
      SetMeta(std::move(meta));
      std::sort(pending_.begin(), pending_.end());  // keep input order per key
    }
    return Status::Ok();
  }

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
};

}  // namespace

std::unique_ptr<StreamWriter> NewLocalStreamWriter(LocalStore* store, std::string name,
                                                   StreamMeta meta, SyncMode sync) {
  return std::make_unique<LocalStreamWriter>(store, std::move(name), std::move(meta), sync);
}

}  // namespace kstream
