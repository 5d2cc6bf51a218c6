#include "store/stream_meta.h"

#include <simdjson.h>

#include <algorithm>

#include "core/text.h"

namespace kstream {

std::string ShardMeta::id() const { return ShardIdFor(index); }

const ShardMeta* StreamMeta::FindShard(uint64_t index) const {
  for (const auto& s : shards)
    if (s.index == index) return &s;
  return nullptr;
}

std::vector<const ShardMeta*> StreamMeta::OpenShards() const {
  std::vector<const ShardMeta*> open;
  for (const auto& s : shards)
    if (s.is_open()) open.push_back(&s);
  std::sort(open.begin(), open.end(),
            [](const ShardMeta* a, const ShardMeta* b) { return a->start_hash < b->start_hash; });
  return open;
}

std::vector<ShardMeta> UniformShards(int count, uint64_t first_index, int64_t created_ms) {
  std::vector<ShardMeta> shards;
  // floor(2^128 / N) computed without overflow: (2^128 - 1) / N, plus one
  // when N divides 2^128 exactly (N a power of two).
  const uint128 n = uint128(count);
  uint128 step = kMaxHashKey / n;
  if (kMaxHashKey % n == n - 1) step += 1;
  for (int i = 0; i < count; ++i) {
    ShardMeta s;
    s.index = first_index + uint64_t(i);
    s.start_hash = step * uint128(i);
    s.end_hash = i + 1 == count ? kMaxHashKey : step * uint128(i + 1) - 1;
    s.created_ms = created_ms;
    shards.push_back(s);
  }
  return shards;
}

Status CheckOpenShardsTile(const StreamMeta& meta) {
  auto open = meta.OpenShards();
  if (open.empty()) return Status::Corruption("stream '" + meta.name + "' has no open shard");
  uint128 expect = 0;
  for (size_t i = 0; i < open.size(); ++i) {
    if (open[i]->start_hash != expect || open[i]->end_hash < open[i]->start_hash)
      return Status::Corruption("stream '" + meta.name + "': open shards do not tile the hash space at " +
                                open[i]->id());
    if (i + 1 < open.size()) expect = open[i]->end_hash + 1;
    else if (open[i]->end_hash != kMaxHashKey)
      return Status::Corruption("stream '" + meta.name + "': open shards end before 2^128-1");
  }
  return Status::Ok();
}

std::string EncodeStreamMeta(const StreamMeta& m) {
  std::string o = "{\n  \"format\": 1,\n  \"name\": ";
  AppendJsonString(o, m.name);
  o += ",\n  \"created_ms\": " + std::to_string(m.created_ms);
  o += ",\n  \"retention_hours\": " + std::to_string(m.retention_hours);
  o += ",\n  \"next_shard_index\": " + std::to_string(m.next_shard_index);
  o += ",\n  \"shards\": [";
  for (size_t i = 0; i < m.shards.size(); ++i) {
    const auto& s = m.shards[i];
    o += i ? ",\n    {" : "\n    {";
    o += "\"index\": " + std::to_string(s.index);
    o += ", \"start_hash\": \"" + ToDecimal(s.start_hash) + "\"";
    o += ", \"end_hash\": \"" + ToDecimal(s.end_hash) + "\"";
    if (s.parent) o += ", \"parent\": " + std::to_string(*s.parent);
    if (s.adjacent_parent) o += ", \"adjacent_parent\": " + std::to_string(*s.adjacent_parent);
    o += ", \"created_ms\": " + std::to_string(s.created_ms);
    if (s.closed_ms) o += ", \"closed_ms\": " + std::to_string(*s.closed_ms);
    if (s.ending_counter) o += ", \"ending_counter\": " + std::to_string(*s.ending_counter);
    o += "}";
  }
  o += "\n  ]\n}\n";
  return o;
}

Result<StreamMeta> DecodeStreamMeta(std::string_view json, const std::string& path) {
  using namespace simdjson;
  auto bad = [&](const std::string& why) {
    return Status::Corruption(path + ": " + why);
  };
  dom::parser parser;
  padded_string padded(json);
  dom::element root;
  if (auto err = parser.parse(padded).get(root)) return bad(error_message(err));
  StreamMeta m;
  std::string_view name;
  int64_t retention = 0;
  uint64_t next_index = 0;
  dom::array shards;
  if (root["name"].get(name) || root["created_ms"].get(m.created_ms) ||
      root["retention_hours"].get(retention) || root["next_shard_index"].get(next_index) ||
      root["shards"].get(shards))
    return bad("missing or mistyped field");
  m.name = std::string(name);
  m.retention_hours = int(retention);
  m.next_shard_index = next_index;
  for (dom::element e : shards) {
    ShardMeta s;
    std::string_view start, end;
    if (e["index"].get(s.index) || e["start_hash"].get(start) || e["end_hash"].get(end) ||
        e["created_ms"].get(s.created_ms))
      return bad("shard entry missing a field");
    auto st = ParseDecimal128(start, "start_hash");
    auto en = ParseDecimal128(end, "end_hash");
    if (!st.ok() || !en.ok()) return bad("bad hash key in shard entry");
    s.start_hash = *st;
    s.end_hash = *en;
    uint64_t u;
    int64_t i64;
    if (!e["parent"].get(u)) s.parent = u;
    if (!e["adjacent_parent"].get(u)) s.adjacent_parent = u;
    if (!e["closed_ms"].get(i64)) s.closed_ms = i64;
    if (!e["ending_counter"].get(u)) s.ending_counter = u;
    m.shards.push_back(s);
  }
  std::sort(m.shards.begin(), m.shards.end(),
            [](const ShardMeta& a, const ShardMeta& b) { return a.index < b.index; });
  return m;
}

}  // namespace kstream
