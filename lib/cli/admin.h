// The admin commands of `kstream`, over any Backend; output goes to stdout.
#pragma once

#include <string>

#include "consume/group_status.h"
#include "consume/lease.h"
#include "store/backend.h"

namespace kstream::cli {

struct AdminOptions {
  std::string name;
  int shards = 1;
  int retention_hours = 24;
  bool json = false;
};

Status CreateStream(Backend& b, const AdminOptions& o, bool quiet);
Status ListStreams(Backend& b, const AdminOptions& o);
Status DescribeStream(Backend& b, const AdminOptions& o);
Status DeleteStream(Backend& b, const AdminOptions& o, bool quiet);
Status SetRetention(Backend& b, const AdminOptions& o, bool quiet);

// One shard in the Kinesis JSON shape (ShardId, parents, HashKeyRange,
// SequenceNumberRange); the object is left open unless `close`.
void AppendShardJson(std::string& out, const ShardMeta& shard, bool close);

// The JSON of `aws kinesis describe-stream`, with kstream's figures added to
// each shard ("Records", "Bytes", "Segments", "LastSequenceNumber").
std::string DescribeStreamJson(const StreamDescription& d);
// A human table of the shards.
std::string DescribeStreamText(const StreamDescription& d);

// kstream groups STREAM / kstream group STREAM APP [--reset | --delete].
struct GroupAdminOptions {
  std::string stream, group;
  bool json = false;
  bool reset = false, del = false;
  std::string iterator = "TRIM_HORIZON", timestamp;  // --reset
  StartPosition start;                               // from iterator and timestamp
};

// Checks the flags of `kstream group` and fills o.start (usage errors).
Status CheckGroupAdmin(GroupAdminOptions& o);
// The group names, one per line ({"Groups":[...]} with json).
Status ListGroups(GroupStore& groups, const GroupAdminOptions& o);
// Shows the group (each shard's owner, checkpoint and lag), or resets or
// deletes it; both refuse while a worker holds a lease.
Status GroupCommand(Backend& b, GroupStore& groups, const GroupAdminOptions& o, int64_t now,
                    bool quiet);

// A human table, and {"StreamName","GroupName","Workers","LagRecords",
// "MillisBehindLatest","Shards":[{"ShardId","State","LeaseOwner","LeaseLive",
// "LeaseCounter","Checkpoint","OwnerSwitchesSinceCheckpoint",
// "ParentShardIds","LagRecords","MillisBehindLatest"}]}.
std::string GroupStatusText(const GroupStatus& g);
std::string GroupStatusJson(const GroupStatus& g);

}  // namespace kstream::cli
