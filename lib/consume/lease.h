// Consumer-group leases and checkpoints, after the Kinesis Client Library's
// lease table (one entry per shard: owner, lease counter, checkpoint, parent
// shards), and the LeaseTable interface that stores them.
//
// The protocol (see lease_coordinator.h) needs only what DynamoDB offers the
// KCL: a consistent read of all leases and conditional writes that apply only
// when a lease still has the counter and owner the writer last saw. The local
// store keeps the table in a file (store/local_lease_table.h); a remote
// backend may keep it anywhere that offers the same.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash_key.h"
#include "core/status.h"
#include "store/backend.h"

namespace kstream {

// How far a group has processed a shard: a sequence number, or a sentinel.
// Sentinels order as in the KCL: AT_TIMESTAMP < TRIM_HORIZON < LATEST < any
// sequence number < SHARD_END.
struct Checkpoint {
  enum class Kind { kAtTimestamp, kTrimHorizon, kLatest, kSequence, kShardEnd };
  Kind kind = Kind::kTrimHorizon;
  SequenceNumber sequence;   // kSequence: the last record processed
  int64_t timestamp_ms = 0;  // kAtTimestamp: where the group starts
  // kSequence inside a KPL aggregate: the last user record processed of the
  // record `sequence` (KCL checkpointSubSequenceNumber). Absent: the whole
  // record was processed (and lease files written before it existed).
  std::optional<uint32_t> sub_sequence = std::nullopt;

  static Checkpoint Sequence(const SequenceNumber& seq) { return {Kind::kSequence, seq, 0}; }
  // Through this record: a user record of an aggregate keeps its sub-sequence.
  static Checkpoint Through(const RecordBatch::Record& r) {
    return {Kind::kSequence, r.sequence, 0, r.sub_sequence};
  }
  static Checkpoint ShardEnd() { return {Kind::kShardEnd, 0, 0}; }
  bool operator==(const Checkpoint&) const = default;
  bool at_shard_end() const { return kind == Kind::kShardEnd; }

  // "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "SHARD_END" or the decimal number.
  std::string ToString() const;
  // Where a reader resumes: AFTER_SEQUENCE_NUMBER of a sequence checkpoint
  // (AT_SEQUENCE_NUMBER with after_sub_sequence inside an aggregate: a
  // de-aggregating reader skips the processed user records, a raw one reads
  // the record again), the sentinel's own position otherwise. Not for
  // SHARD_END.
  StartPosition ResumePosition() const;
};

// Parses ToString()'s output; timestamp_ms goes with AT_TIMESTAMP.
Result<Checkpoint> ParseCheckpoint(std::string_view text, int64_t timestamp_ms);
// The checkpoint a new group starts from for an iterator type (TRIM_HORIZON,
// LATEST or AT_TIMESTAMP; others are refused).
Result<Checkpoint> InitialCheckpoint(const StartPosition& start);

struct Lease {
  uint64_t shard = 0;             // leaseKey: the shard id
  std::string owner;              // leaseOwner: a worker id; empty when free
  uint64_t counter = 0;           // leaseCounter: +1 on every take, renewal and update
  int64_t renewed_ms = 0;         // the owner's clock at its last take, renewal or update
  int64_t timeout_ms = 0;         // the owner's lease timeout
  Checkpoint checkpoint;          // processed up to here
  uint64_t owner_switches = 0;    // ownerSwitchesSinceCheckpoint
  std::vector<uint64_t> parents;  // parentShardId: one after a split, two after a merge

  // Owned, but not renewed within its owner's timeout as seen at `now`.
  bool expired(int64_t now) const { return !owner.empty() && now - renewed_ms > timeout_ms; }
  // Owned and not expired.
  bool live(int64_t now) const { return !owner.empty() && !expired(now); }
};

// A conditional write: `lease` replaces the stored lease of the same shard
// only if that one still has expected_counter and expected_owner.
struct LeaseUpdate {
  uint64_t expected_counter = 0;
  std::string expected_owner;
  Lease lease;
};

// The leases of one consumer group on one stream. Implementations are safe to
// use from many processes at once; an object is not thread-safe.
class LeaseTable {
 public:
  virtual ~LeaseTable() = default;
  // A consistent snapshot of every lease, by shard. kNotFound: no such group.
  virtual Result<std::vector<Lease>> List() = 0;
  // Adds the leases whose shard has none yet, creating the group if needed;
  // existing leases are left as they are (so racing workers agree).
  virtual Status Add(std::span<const Lease> leases) = 0;
  // Applies, in one atomic step, each update whose condition holds; returns
  // which were applied. kNotFound when the group was deleted.
  virtual Result<std::vector<bool>> Apply(std::span<const LeaseUpdate> updates) = 0;
  // Replaces every lease (a reset), or deletes the group, unless a lease is
  // live at `now`: then kFailedPrecondition and nothing changes.
  virtual Status Replace(std::span<const Lease> leases, int64_t now) = 0;
  // Deletes, in one atomic step, the leases of these shards that are at
  // SHARD_END (a finished lease never changes again, whoever holds it);
  // returns how many went. The KCL's lease cleanup of shards that no longer
  // exist. kNotFound when the group was deleted.
  virtual Result<size_t> RemoveFinished(std::span<const uint64_t> shards) = 0;
  virtual Status Delete(int64_t now) = 0;
};

// Where a backend keeps its streams' consumer groups.
class GroupStore {
 public:
  virtual ~GroupStore() = default;
  // The group names of a stream, sorted (kNotFound: no such stream).
  virtual Result<std::vector<std::string>> ListGroups(const std::string& stream) = 0;
  // The table of one group, which need not exist yet (see LeaseTable::Add).
  virtual Result<std::unique_ptr<LeaseTable>> OpenLeaseTable(const std::string& stream,
                                                             const std::string& group) = 0;
};

// Whether lease is at SHARD_END and its shard is one of shards.
inline bool FinishedIn(const Lease& lease, std::span<const uint64_t> shards) {
  return lease.checkpoint.at_shard_end() &&
         std::find(shards.begin(), shards.end(), lease.shard) != shards.end();
}

// Group names follow stream names: 1-128 characters of [A-Za-z0-9_.-].
Status ValidateGroupName(std::string_view name);

// The table as JSON (KCL attribute names), and back. `path` names the source
// in errors.
std::string EncodeLeases(const std::string& stream, const std::string& group,
                         const std::vector<Lease>& leases);
Result<std::vector<Lease>> DecodeLeases(std::string_view json, const std::string& path);

}  // namespace kstream
