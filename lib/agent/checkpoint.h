// Per-file checkpoints of kstream-agent: which file (device, inode and a
// fingerprint of its first bytes, so a reused inode is not taken for the old
// file) and how far its records are durable in the stream. The whole set is
// one JSON file, replaced atomically through Env::WriteFileAtomic:
//
//   {"version":1,"flows":["kinesis:logs:/var/log/app.log*"],"files":[{"flow":"kinesis:logs:/var/log/app.log*",
//     "path":"/var/log/app.log","dev":2049,"inode":131,"fingerprintBytes":1024,
//     "fingerprint":"9f0c...","offset":52311,"lastUpdated":1700000000000}]}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/status.h"

namespace kstream::agent {

// A hash of a file's first `bytes` bytes (bytes = min(size, kFingerprintBytes)
// when taken; it grows with the file up to the limit).
struct Fingerprint {
  uint32_t bytes = 0;
  uint64_t hash = 0;
  bool operator==(const Fingerprint&) const = default;
};
inline constexpr uint32_t kFingerprintBytes = 1024;

uint64_t HashBytes(std::string_view bytes);

struct FileCheckpoint {
  std::string flow;  // FlowConfig::Id()
  std::string path;  // where the file was last seen
  uint64_t dev = 0, inode = 0;
  Fingerprint fingerprint;
  uint64_t offset = 0;  // every record ending at or before it is durable
  int64_t updated_ms = 0;
};

struct CheckpointSet {
  // Flows that have started before: initialPosition applies only to a flow
  // not in this list; later, a file never seen is read from its start.
  std::vector<std::string> flows;
  std::vector<FileCheckpoint> files;
  bool HasFlow(std::string_view id) const {
    for (const auto& f : flows)
      if (f == id) return true;
    return false;
  }
};

std::string EncodeCheckpoints(const CheckpointSet& set);
Result<CheckpointSet> DecodeCheckpoints(std::string_view text);

// A missing file is an empty set; a damaged one is an error naming it.
Result<CheckpointSet> LoadCheckpoints(Env* env, const std::string& path);
Status SaveCheckpoints(Env* env, const std::string& path, const CheckpointSet& set);

}  // namespace kstream::agent
