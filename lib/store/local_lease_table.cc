#include "store/local_lease_table.h"

#include <algorithm>
#include <cctype>
#include <functional>

#include "core/text.h"

namespace kstream {
namespace {

constexpr char kLeasesFile[] = "leases.json";

class LocalLeaseTable final : public LeaseTable {
 public:
  // stream_dir: the stream's directory in the local store, which must exist,
  // or (local_stream false) a directory for the groups of a stream elsewhere.
  LocalLeaseTable(Env* env, std::string stream_dir, bool local_stream, std::string stream,
                  std::string group)
      : env_(env),
        local_stream_(local_stream),
        stream_dir_(std::move(stream_dir)),
        dir_(JoinPath(JoinPath(stream_dir_, "groups"), group)),
        path_(JoinPath(dir_, kLeasesFile)),
        stream_(std::move(stream)),
        group_(std::move(group)) {}

  Result<std::vector<Lease>> List() override {
    auto text = env_->ReadWholeFile(path_);
    if (!text.ok()) {
      if (text.status().code() == StatusCode::kNotFound) return Missing();
      return text.status();
    }
    return DecodeLeases(*text, path_);
  }

  Status Add(std::span<const Lease> leases) override {
    KS_RETURN_IF_ERROR(EnsureDir());
    return Locked(
        [&](std::vector<Lease>& table, bool& changed) {
          for (const Lease& l : leases) {
            if (Find(table, l.shard)) continue;
            table.push_back(l);
            changed = true;
          }
          return Status::Ok();
        },
        /*must_exist=*/false);
  }

  Result<std::vector<bool>> Apply(std::span<const LeaseUpdate> updates) override {
    std::vector<bool> applied(updates.size(), false);
    KS_RETURN_IF_ERROR(Locked(
        [&](std::vector<Lease>& table, bool& changed) {
          for (size_t i = 0; i < updates.size(); ++i) {
            Lease* l = Find(table, updates[i].lease.shard);
            if (!l || l->counter != updates[i].expected_counter ||
                l->owner != updates[i].expected_owner)
              continue;
            *l = updates[i].lease;
            applied[i] = changed = true;
          }
          return Status::Ok();
        },
        /*must_exist=*/true));
    return applied;
  }

  Status Replace(std::span<const Lease> leases, int64_t now) override {
    return Locked(
        [&](std::vector<Lease>& table, bool& changed) {
          KS_RETURN_IF_ERROR(CheckIdle(table, now));
          table.assign(leases.begin(), leases.end());
          changed = true;
          return Status::Ok();
        },
        /*must_exist=*/true);
  }

  Result<size_t> RemoveFinished(std::span<const uint64_t> shards) override {
    size_t removed = 0;
    KS_RETURN_IF_ERROR(Locked(
        [&](std::vector<Lease>& table, bool& changed) {
          removed = std::erase_if(table, [&](const Lease& l) { return FinishedIn(l, shards); });
          changed = removed > 0;
          return Status::Ok();
        },
        /*must_exist=*/true));
    return removed;
  }

  Status Delete(int64_t now) override {
    return Locked(
        [&](std::vector<Lease>& table, bool&) {
          KS_RETURN_IF_ERROR(CheckIdle(table, now));
          KS_RETURN_IF_ERROR(env_->RemoveFile(path_));
          return env_->SyncDir(dir_);
        },
        /*must_exist=*/true);
  }

 private:
  using Change = std::function<Status(std::vector<Lease>&, bool& changed)>;

  Status Missing() const {
    return Status::NotFound("consumer group '" + group_ + "' does not exist on stream '" + stream_ +
                            "'");
  }

  static Lease* Find(std::vector<Lease>& table, uint64_t shard) {
    for (Lease& l : table)
      if (l.shard == shard) return &l;
    return nullptr;
  }

  Status CheckIdle(const std::vector<Lease>& table, int64_t now) const {
    std::vector<std::string> owners;
    for (const Lease& l : table)
      if (l.live(now) && std::find(owners.begin(), owners.end(), l.owner) == owners.end())
        owners.push_back(l.owner);
    if (owners.empty()) return Status::Ok();
    std::string list;
    for (const auto& o : owners) list += (list.empty() ? "" : ", ") + o;
    return Status::FailedPrecondition("consumer group '" + group_ + "' has live workers (" + list +
                                      "): stop them first, or wait for their leases to expire");
  }

  // Creates the group's directory, unless the stream is gone.
  Status EnsureDir() {
    if (env_->Exists(dir_)) return Status::Ok();
    if (!local_stream_) {
      for (size_t slash = stream_dir_.find('/', 1); slash != std::string::npos;
           slash = stream_dir_.find('/', slash + 1))
        KS_RETURN_IF_ERROR(env_->CreateDir(stream_dir_.substr(0, slash)));
      KS_RETURN_IF_ERROR(env_->CreateDir(stream_dir_));
      KS_RETURN_IF_ERROR(env_->CreateDir(JoinPath(stream_dir_, "groups")));
      return env_->CreateDir(dir_);
    }
    const std::string meta = JoinPath(stream_dir_, "stream.json");
    if (!env_->Exists(meta))
      return Status::NotFound("stream '" + stream_ +
                              "' does not exist (create it with: kstream create " + stream_ + ")");
    KS_RETURN_IF_ERROR(env_->CreateDir(dir_));
    // A stream deleted in between would leave our directory behind: remove it.
    if (!env_->Exists(meta)) {
      (void)env_->RemoveTree(JoinPath(stream_dir_, "groups"));
      return Status::NotFound("stream '" + stream_ + "' was deleted");
    }
    return Status::Ok();
  }

  // Runs change on the table under the lock and writes it back if it changed.
  Status Locked(const Change& change, bool must_exist) {
    if (!lock_) {
      if (!env_->Exists(dir_)) return Missing();
      KS_ASSIGN_OR_RETURN(lock_, env_->OpenLockFile(JoinPath(dir_, "leases.lock")));
    }
    LockGuard guard;
    KS_RETURN_IF_ERROR(guard.Acquire(lock_.get()));
    std::vector<Lease> table;
    auto current = List();
    bool changed = false;
    if (current.ok()) {
      table = std::move(*current);
    } else if (current.status().code() != StatusCode::kNotFound || must_exist) {
      return current.status();
    } else {
      changed = true;  // a new group: write it even if empty
    }
    KS_RETURN_IF_ERROR(change(table, changed));
    if (!changed) return Status::Ok();
    std::sort(table.begin(), table.end(),
              [](const Lease& a, const Lease& b) { return a.shard < b.shard; });
    return env_->WriteFileAtomic(path_, EncodeLeases(stream_, group_, table));
  }

  Env* env_;
  bool local_stream_;
  std::string stream_dir_, dir_, path_;
  std::string stream_, group_;
  std::unique_ptr<LockFile> lock_;
};

}  // namespace

std::string LocalGroupStore::StreamDir(const std::string& stream) const {
  return store_ ? store_->StreamDir(stream) : JoinPath(root_, stream);
}

Result<std::vector<std::string>> LocalGroupStore::ListGroups(const std::string& stream) {
  KS_RETURN_IF_ERROR(ValidateStreamName(stream));
  if (store_) KS_RETURN_IF_ERROR(store_->ReadMeta(stream).status());
  const std::string groups = JoinPath(StreamDir(stream), "groups");
  auto names = env_->ListDir(groups);
  if (!names.ok()) {
    if (names.status().code() == StatusCode::kNotFound) return std::vector<std::string>{};
    return names.status();
  }
  std::vector<std::string> out;
  for (auto& n : *names)
    if (ValidateGroupName(n).ok() && env_->Exists(JoinPath(JoinPath(groups, n), kLeasesFile)))
      out.push_back(std::move(n));
  return out;
}

Result<std::unique_ptr<LeaseTable>> LocalGroupStore::OpenLeaseTable(const std::string& stream,
                                                                    const std::string& group) {
  KS_RETURN_IF_ERROR(ValidateStreamName(stream));
  KS_RETURN_IF_ERROR(ValidateGroupName(group));
  if (store_) KS_RETURN_IF_ERROR(store_->ReadMeta(stream).status());
  return std::unique_ptr<LeaseTable>(
      new LocalLeaseTable(env_, StreamDir(stream), store_ != nullptr, stream, group));
}

std::string EndpointGroupsRoot(const std::string& store_root, std::string_view host, int port) {
  std::string name;
  for (char c : host)
    name += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_';
  return JoinPath(JoinPath(store_root, "endpoints"), name + "_" + std::to_string(port));
}

}  // namespace kstream
