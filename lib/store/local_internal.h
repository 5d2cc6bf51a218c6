// Factories for LocalStore's parts, each in its own file.
#pragma once

#include <memory>
#include <string>

#include "store/backend.h"

namespace kstream {

class Env;
class LocalStore;

std::unique_ptr<StreamWriter> NewLocalStreamWriter(LocalStore* store, std::string name,
                                                   StreamMeta meta, SyncMode sync);
Result<std::unique_ptr<ShardCursor>> NewLocalShardCursor(Env* env, std::string shard_dir,
                                                         uint64_t shard_index,
                                                         const StartPosition& start);
Result<std::unique_ptr<ChangeWatch>> NewInotifyWatch(const std::string& stream_dir);

}  // namespace kstream
