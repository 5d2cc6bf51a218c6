// LocalGroupStore: the consumer groups of a LocalStore. Each group's lease
// table is one file, streams/<stream>/groups/<group>/leases.json, read without
// a lock (it is only ever replaced whole, by Env::WriteFileAtomic) and changed
// under a flock of leases.lock beside it, so a conditional update is a
// read-check-write that no other process can interleave.
//
// Deleting a group removes leases.json and keeps the lock file: a process that
// still holds it open then locks the same inode as a process starting afresh.
//
// The groups of a stream at a remote endpoint (kstream-get --group with
// --endpoint, like the KCL's lease table beside a Kinesis stream) are kept the
// same way under a directory of the local store for that endpoint,
// endpoints/<host>_<port>/<stream>/groups/<group>/: workers on this machine
// share them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "consume/lease.h"
#include "store/local_store.h"

namespace kstream {

class LocalGroupStore final : public GroupStore {
 public:
  // The groups of the store's own streams.
  explicit LocalGroupStore(LocalStore* store) : env_(store->env()), store_(store) {}
  // The groups of streams elsewhere, under `root` (one directory per stream);
  // whether a stream exists is for its backend to say.
  LocalGroupStore(Env* env, std::string root) : env_(env), root_(std::move(root)) {}

  Result<std::vector<std::string>> ListGroups(const std::string& stream) override;
  Result<std::unique_ptr<LeaseTable>> OpenLeaseTable(const std::string& stream,
                                                     const std::string& group) override;

 private:
  std::string StreamDir(const std::string& stream) const;

  Env* env_;
  LocalStore* store_ = nullptr;  // null: streams elsewhere, groups under root_
  std::string root_;
};

// endpoints/<host>_<port> under a store root: where the groups of an
// endpoint's streams are kept (characters other than [A-Za-z0-9.-] of the
// host become '_').
std::string EndpointGroupsRoot(const std::string& store_root, std::string_view host, int port);

}  // namespace kstream
