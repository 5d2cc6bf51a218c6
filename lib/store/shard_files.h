// Helpers over one shard directory's files: listing segments, loading index
// hints, retention trimming and statistics. None of them takes a lock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/env.h"
#include "store/backend.h"

namespace kstream {

// First counters of the shard's segments, ascending. Empty if the directory
// has no segment yet; kNotFound if the directory is gone.
Result<std::vector<uint64_t>> ListSegments(Env* env, const std::string& shard_dir);

struct IndexEntry {
  uint64_t counter;
  int64_t arrival_ms;
  uint64_t offset;
};
// The index hints of one segment, cut at the first entry out of order (hints
// are checked against the data when used). Missing file: no hints.
std::vector<IndexEntry> LoadIndex(Env* env, const std::string& shard_dir, uint64_t first_counter);

// Removes segments whose successor began before now - retention_ms. Never
// removes the newest segment. Best effort.
void TrimShardSegments(Env* env, const std::string& shard_dir, int64_t retention_ms);

Result<ShardStats> ComputeShardStats(Env* env, const std::string& shard_dir, uint64_t shard_index);

}  // namespace kstream
