// The intent of a flush (after Kafka Connect's write-ahead log for HDFS):
// before a flush of one shard makes its files visible, it records which
// staged files become which final files and the last sequence number they
// cover. A worker that takes the shard over finishes the renames a crash
// interrupted and skips the records the intent covers, so every record lands
// in exactly one final file however the crash fell.
//
// Text, one item per line (names never hold tabs or newlines):
//   kstream-deliver intent 1
//   shard shardId-000000000003
//   last 49650000000000000000000000000000000000
//   file <staging name>\t<final path relative to the target directory>
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/hash_key.h"
#include "core/sequence_number.h"
#include "core/status.h"

namespace kstream {

struct FlushIntent {
  struct File {
    std::string staged;  // name in the staging directory
    std::string final;   // path under the target directory
  };
  uint64_t shard = 0;
  SequenceNumber last;
  std::vector<File> files;
};

std::string EncodeIntent(const FlushIntent& intent);
// `path` names the source in errors (kCorruption).
Result<FlushIntent> DecodeIntent(std::string_view text, const std::string& path);

}  // namespace kstream
