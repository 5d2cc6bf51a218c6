// kstream-put --aggregate: user records bound for the same shard packed into
// KPL aggregated records, one open aggregate per shard, as the KPL's
// aggregators do. An aggregate is closed when the next record would take it
// past max_count records or max_size bytes (magic, protobuf and digest
// counted); a record too large to share one goes alone.
//
// The Kinesis record of an aggregate is the KPL's: partition key "a" (the user
// keys are inside) and the first user record's hash key as its explicit hash
// key, so it lands on that record's shard. A "group" of one user record is
// sent as that record itself, unaggregated, again as the KPL does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kpl/aggregate.h"

namespace kstream {

struct AggregationLimits {
  uint64_t max_count = kpl::kDefaultMaxCount;
  size_t max_size = kpl::kDefaultMaxSize;
};

// Not thread-safe. Users are numbered 0, 1, ... in the order added since the
// last Clear().
class ShardAggregation {
 public:
  explicit ShardAggregation(AggregationLimits limits) : limits_(limits) {}

  // Adds the next user record, predicted to go to `shard` by `hash_key`.
  void Add(uint64_t shard, uint128 hash_key, const kpl::UserRecord& r);
  // Closes every open aggregate: outputs() is then the whole batch.
  void CloseAll();

  struct Output {
    uint64_t predicted_shard = 0;
    bool aggregated = false;
    uint32_t first_user = 0;  // not aggregated: the user record sent as is
    size_t offset = 0, size = 0;
    uint128 hash_key = 0;  // aggregated: the explicit hash key of the Kinesis record
  };
  const std::vector<Output>& outputs() const { return outputs_; }
  std::string_view data(const Output& o) const {
    return std::string_view(bytes_).substr(o.offset, o.size);
  }
  struct Placement {
    uint32_t output = 0;
    std::optional<uint32_t> sub_sequence;  // none: sent as is
  };
  const Placement& placement(uint32_t user) const { return placements_[user]; }

  // Kinesis records this batch makes so far (closed and open), and their bytes.
  size_t kinesis_records() const { return outputs_.size() + open_count_; }
  size_t bytes() const { return bytes_.size() + open_bytes_; }
  void Clear();

 private:
  struct Open {
    kpl::Aggregator aggregator;
    std::vector<uint32_t> users;
    uint128 first_hash = 0;
  };
  void Close(uint64_t shard, Open& open);

  AggregationLimits limits_;
  std::unordered_map<uint64_t, Open> open_;  // by shard
  size_t open_count_ = 0, open_bytes_ = 0;
  std::vector<Output> outputs_;
  std::vector<Placement> placements_;
  std::string bytes_;  // the closed aggregates, back to back
};

}  // namespace kstream
