// Default implementations of Backend's optional operations.
#include "store/backend.h"

#include "core/text.h"

namespace kstream {

Result<ShardStats> Backend::GetShardStats(const std::string& name, uint64_t shard_index) {
  KS_ASSIGN_OR_RETURN(StreamDescription d, DescribeStream(name));
  for (size_t i = 0; i < d.meta.shards.size() && i < d.stats.size(); ++i)
    if (d.meta.shards[i].index == shard_index) return d.stats[i];
  return Status::NotFound("shard " + ShardIdFor(shard_index) + " does not exist in stream '" +
                          name + "'");
}

Status Backend::UpdateTags(const std::string& name, const std::map<std::string, std::string>&,
                           const std::vector<std::string>&) {
  return Status::FailedPrecondition("this backend cannot tag stream '" + name + "'");
}

Status Backend::UpdateConsumers(const std::string& name,
                                const std::function<Status(std::vector<ConsumerMeta>&)>&) {
  return Status::FailedPrecondition("this backend cannot register consumers of stream '" + name +
                                    "'");
}

}  // namespace kstream
