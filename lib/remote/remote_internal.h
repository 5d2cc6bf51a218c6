// Pieces of RemoteBackend shared between its files: the writer, the cursor,
// the polling watch, and decoding of the service's answers.
#pragma once

#include <simdjson.h>

#include <memory>
#include <string>
#include <vector>

#include "remote/kinesis_client.h"
#include "remote/remote_backend.h"
#include "store/backend.h"

namespace kstream::remote {

// Kinesis limits on one PutRecords call.
inline constexpr size_t kMaxPutRecords = 500;
inline constexpr size_t kMaxPutBytes = 5 << 20;  // partition keys and data
inline constexpr size_t kMaxGetRecords = 10000;

// "stream 'x' does not exist at URL (create it with: ...)", as the local store says it.
Status StreamNotFound(const Endpoint& endpoint, const std::string& name);

// {"StreamName":"<name>" — the start of most request bodies (no closing brace).
std::string BodyForStream(const std::string& name);

// One ShardMeta from an element of a "Shards" array.
Result<ShardMeta> DecodeShard(simdjson::dom::element shard);
// Adds the shards of a "Shards" array to meta (kept in index order, the next
// free index updated).
Status AddShards(simdjson::dom::array shards, StreamMeta& meta);

// The shard map predicts where records go, for the per-shard rate limit.
std::unique_ptr<StreamWriter> MakeRemoteWriter(const ClientConfig& config, std::string stream,
                                               StreamMeta shards);
Result<std::unique_ptr<ShardCursor>> OpenRemoteCursor(const ClientConfig& config,
                                                      const RemoteOptions& options,
                                                      std::string stream, uint64_t shard_index,
                                                      const StartPosition& start);
std::unique_ptr<ChangeWatch> MakePollingWatch(int poll_ms);

}  // namespace kstream::remote
