// The admin commands of `kstream`, over any Backend; output goes to stdout.
#pragma once

#include <string>

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

}  // namespace kstream::cli
