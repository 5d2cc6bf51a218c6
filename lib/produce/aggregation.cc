#include "produce/aggregation.h"

namespace kstream {

void ShardAggregation::Add(uint64_t shard, uint128 hash_key, const kpl::UserRecord& r) {
  Open& open = open_[shard];
  if (!open.users.empty() &&
      (open.users.size() >= limits_.max_count || open.aggregator.SizeWith(r) > limits_.max_size))
    Close(shard, open);
  if (open.users.empty()) {
    open.first_hash = hash_key;
    ++open_count_;
  }
  const size_t before = open.aggregator.size();
  open.aggregator.Add(r);
  open_bytes_ += open.aggregator.size() - before;
  open.users.push_back(uint32_t(placements_.size()));
  placements_.emplace_back();
}

void ShardAggregation::Close(uint64_t shard, Open& open) {
  if (open.users.empty()) return;
  Output out;
  out.predicted_shard = shard;
  out.first_user = open.users.front();
  const uint32_t index = uint32_t(outputs_.size());
  if (open.users.size() == 1) {
    placements_[open.users.front()] = {index, std::nullopt};
  } else {
    out.aggregated = true;
    out.offset = bytes_.size();
    open.aggregator.AppendTo(bytes_);
    out.size = bytes_.size() - out.offset;
    out.hash_key = open.first_hash;
    for (uint32_t i = 0; i < open.users.size(); ++i) placements_[open.users[i]] = {index, i};
  }
  outputs_.push_back(out);
  open_bytes_ -= open.aggregator.size();
  --open_count_;
  open.aggregator.Clear();
  open.users.clear();
}

void ShardAggregation::CloseAll() {
  for (auto& [shard, open] : open_) Close(shard, open);
}

void ShardAggregation::Clear() {
  for (auto& [shard, open] : open_) {
    open.aggregator.Clear();
    open.users.clear();
  }
  open_count_ = open_bytes_ = 0;
  outputs_.clear();
  placements_.clear();
  bytes_.clear();
}

}  // namespace kstream
