// LocalGroupStore: the consumer groups of a LocalStore. Each group's lease
// table is one file, streams/<stream>/groups/<group>/leases.json, read without
// a lock (it is only ever replaced whole, by Env::WriteFileAtomic) and changed
// under a flock of leases.lock beside it, so a conditional update is a
// read-check-write that no other process can interleave.
//
// Deleting a group removes leases.json and keeps the lock file: a process that
// still holds it open then locks the same inode as a process starting afresh.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "consume/lease.h"
#include "store/local_store.h"

namespace kstream {

class LocalGroupStore final : public GroupStore {
 public:
  explicit LocalGroupStore(LocalStore* store) : store_(store) {}
  Result<std::vector<std::string>> ListGroups(const std::string& stream) override;
  Result<std::unique_ptr<LeaseTable>> OpenLeaseTable(const std::string& stream,
                                                     const std::string& group) override;

 private:
  LocalStore* store_;
};

}  // namespace kstream
