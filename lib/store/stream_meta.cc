#include "store/stream_meta.h"

#include <simdjson.h>

#include <algorithm>

#include "core/text.h"

namespace kstream {

std::string ShardMeta::id() const {
  return ShardIdFor(index);
}

const ShardMeta* StreamMeta::FindShard(uint64_t index) const {
  for (const auto& s : shards)
    if (s.index == index) return &s;
  return nullptr;
}

ShardMeta* StreamMeta::FindShard(uint64_t index) {
  for (auto& s : shards)
    if (s.index == index) return &s;
  return nullptr;
}

const ShardMeta* StreamMeta::OpenShardFor(uint128 hash_key) const {
  for (const auto& s : shards)
    if (s.is_open() && s.start_hash <= hash_key && hash_key <= s.end_hash) return &s;
  return nullptr;
}

std::vector<uint64_t> ExpiredShards(const StreamMeta& meta, int64_t now) {
  std::vector<uint64_t> expired;
  const int64_t cutoff = now - meta.retention_ms();
  for (const auto& s : meta.shards)
    if (s.closed_ms && *s.closed_ms < cutoff) expired.push_back(s.index);
  return expired;
}

void RemoveShards(StreamMeta& meta, const std::vector<uint64_t>& indexes) {
  std::erase_if(meta.shards, [&](const ShardMeta& s) {
    return std::find(indexes.begin(), indexes.end(), s.index) != indexes.end();
  });
}

Status ShardNotFound(const StreamMeta& meta, uint64_t index) {
  if (index < meta.next_shard_index)
    return Status::NotFound("shard " + ShardIdFor(index) + " no longer exists in stream '" +
                            meta.name + "': it was closed by resharding more than the " +
                            std::to_string(meta.retention_hours) +
                            "h retention period ago, and its records are gone");
  return Status::NotFound("shard " + ShardIdFor(index) + " does not exist in stream '" + meta.name +
                          "'");
}

namespace {
Status CheckOpen(const StreamMeta& m, uint64_t index, const ShardMeta** out) {
  *out = m.FindShard(index);
  if (!*out) return Status::NotFound("shard " + ShardIdFor(index) + " does not exist");
  if (!(*out)->is_open())
    // Kinesis: InvalidArgumentException, "... has already been merged or split".
    return Status::InvalidArgument("shard " + (*out)->id() +
                                   " is closed: it has already been split or merged");
  return Status::Ok();
}
}  // namespace

Result<PendingReshard> PlanSplit(const StreamMeta& m, uint64_t index, uint128 at, int64_t now) {
  const ShardMeta* parent;
  KS_RETURN_IF_ERROR(CheckOpen(m, index, &parent));
  // Kinesis's rule (start + 1 < key < end): each child keeps two keys or more.
  if (!(at > parent->start_hash + 1 && at < parent->end_hash))
    return Status::InvalidArgument("hash key " + ToDecimal(at) + " cannot split " + parent->id() +
                                   ": it must be at least " + ToDecimal(parent->start_hash + 2) +
                                   " and below " + ToDecimal(parent->end_hash) +
                                   " (each new shard keeps two hash keys or more)");
  PendingReshard step;
  step.close = {index};
  ShardMeta low, high;
  low.index = m.next_shard_index;
  high.index = m.next_shard_index + 1;
  low.start_hash = parent->start_hash;
  low.end_hash = at - 1;
  high.start_hash = at;
  high.end_hash = parent->end_hash;
  low.parent = high.parent = index;
  low.created_ms = high.created_ms = now;
  step.open = {low, high};
  return step;
}

Result<PendingReshard> PlanMerge(const StreamMeta& m, uint64_t a_index, uint64_t b_index,
                                 int64_t now) {
  const ShardMeta *a, *b;
  KS_RETURN_IF_ERROR(CheckOpen(m, a_index, &a));
  KS_RETURN_IF_ERROR(CheckOpen(m, b_index, &b));
  // Careful at the top of the space: end + 1 of the last shard wraps to 0.
  auto follows = [](const ShardMeta* x, const ShardMeta* y) {
    return x->end_hash != kMaxHashKey && x->end_hash + 1 == y->start_hash;
  };
  if (a_index == b_index || !(follows(a, b) || follows(b, a)))
    return Status::InvalidArgument("shards " + a->id() + " and " + b->id() +
                                   " are not adjacent: their hash key ranges must touch");
  PendingReshard step;
  step.close = {a_index, b_index};
  ShardMeta child;
  child.index = m.next_shard_index;
  child.start_hash = std::min(a->start_hash, b->start_hash);
  child.end_hash = std::max(a->end_hash, b->end_hash);
  child.parent = a_index;
  child.adjacent_parent = b_index;
  child.created_ms = now;
  step.open = {child};
  return step;
}

void ApplyReshard(StreamMeta& m, const PendingReshard& step,
                  const std::vector<uint64_t>& ending_counters, int64_t now) {
  for (size_t i = 0; i < step.close.size(); ++i) {
    ShardMeta* s = m.FindShard(step.close[i]);
    if (!s || !s->is_open()) continue;
    s->closed_ms = now;
    if (i < ending_counters.size()) s->ending_counter = ending_counters[i];
  }
  for (const auto& child : step.open) {
    if (m.FindShard(child.index)) continue;
    m.shards.push_back(child);
    m.next_shard_index = std::max(m.next_shard_index, child.index + 1);
  }
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
      return Status::Corruption("stream '" + meta.name +
                                "': open shards do not tile the hash space at " + open[i]->id());
    if (i + 1 < open.size())
      expect = open[i]->end_hash + 1;
    else if (open[i]->end_hash != kMaxHashKey)
      return Status::Corruption("stream '" + meta.name + "': open shards end before 2^128-1");
  }
  return Status::Ok();
}

namespace {

void EncodeShard(std::string& o, const ShardMeta& s) {
  o += "{\"index\": " + std::to_string(s.index);
  o += ", \"start_hash\": \"" + ToDecimal(s.start_hash) + "\"";
  o += ", \"end_hash\": \"" + ToDecimal(s.end_hash) + "\"";
  if (s.parent) o += ", \"parent\": " + std::to_string(*s.parent);
  if (s.adjacent_parent) o += ", \"adjacent_parent\": " + std::to_string(*s.adjacent_parent);
  o += ", \"created_ms\": " + std::to_string(s.created_ms);
  if (s.closed_ms) o += ", \"closed_ms\": " + std::to_string(*s.closed_ms);
  if (s.ending_counter) o += ", \"ending_counter\": " + std::to_string(*s.ending_counter);
  o += "}";
}

bool DecodeShard(simdjson::dom::element e, ShardMeta& s) {
  std::string_view start, end;
  if (e["index"].get(s.index) || e["start_hash"].get(start) || e["end_hash"].get(end) ||
      e["created_ms"].get(s.created_ms))
    return false;
  auto st = ParseDecimal128(start, "start_hash");
  auto en = ParseDecimal128(end, "end_hash");
  if (!st.ok() || !en.ok()) return false;
  s.start_hash = *st;
  s.end_hash = *en;
  uint64_t u;
  int64_t i64;
  if (!e["parent"].get(u)) s.parent = u;
  if (!e["adjacent_parent"].get(u)) s.adjacent_parent = u;
  if (!e["closed_ms"].get(i64)) s.closed_ms = i64;
  if (!e["ending_counter"].get(u)) s.ending_counter = u;
  return true;
}

}  // namespace

std::string EncodeStreamMeta(const StreamMeta& m) {
  std::string o = "{\n  \"format\": 1,\n  \"name\": ";
  AppendJsonString(o, m.name);
  o += ",\n  \"created_ms\": " + std::to_string(m.created_ms);
  o += ",\n  \"retention_hours\": " + std::to_string(m.retention_hours);
  o += ",\n  \"next_shard_index\": " + std::to_string(m.next_shard_index);
  o += ",\n  \"shards\": [";
  for (size_t i = 0; i < m.shards.size(); ++i) {
    o += i ? ",\n    " : "\n    ";
    EncodeShard(o, m.shards[i]);
  }
  o += "\n  ]";
  if (m.pending) {
    o += ",\n  \"pending\": {\"close\": [";
    for (size_t i = 0; i < m.pending->close.size(); ++i)
      o += (i ? ", " : "") + std::to_string(m.pending->close[i]);
    o += "], \"open\": [";
    for (size_t i = 0; i < m.pending->open.size(); ++i) {
      if (i) o += ", ";
      EncodeShard(o, m.pending->open[i]);
    }
    o += "]}";
  }
  if (!m.tags.empty()) {
    o += ",\n  \"tags\": {";
    bool first = true;
    for (const auto& [key, value] : m.tags) {
      o += first ? "" : ", ";
      first = false;
      AppendJsonString(o, key);
      o += ": ";
      AppendJsonString(o, value);
    }
    o += "}";
  }
  if (!m.consumers.empty()) {
    o += ",\n  \"consumers\": [";
    for (size_t i = 0; i < m.consumers.size(); ++i) {
      const ConsumerMeta& c = m.consumers[i];
      o += i ? ",\n    {\"name\": " : "\n    {\"name\": ";
      AppendJsonString(o, c.name);
      o += ", \"created_ms\": " + std::to_string(c.created_ms);
      if (c.deleting_ms) o += ", \"deleting_ms\": " + std::to_string(*c.deleting_ms);
      o += "}";
    }
    o += "\n  ]";
  }
  o += "\n}\n";
  return o;
}

Result<StreamMeta> DecodeStreamMeta(std::string_view json, const std::string& path) {
  using namespace simdjson;
  auto bad = [&](const std::string& why) { return Status::Corruption(path + ": " + why); };
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
    if (!DecodeShard(e, s)) return bad("bad shard entry");
    m.shards.push_back(s);
  }
  std::sort(m.shards.begin(), m.shards.end(),
            [](const ShardMeta& a, const ShardMeta& b) { return a.index < b.index; });
  dom::object pending;
  if (!root["pending"].get(pending)) {
    PendingReshard step;
    dom::array close, open;
    if (pending["close"].get(close) || pending["open"].get(open)) return bad("bad pending entry");
    for (dom::element e : close) {
      uint64_t index;
      if (e.get(index)) return bad("bad pending entry");
      step.close.push_back(index);
    }
    for (dom::element e : open) {
      ShardMeta s;
      if (!DecodeShard(e, s)) return bad("bad pending shard entry");
      step.open.push_back(s);
    }
    m.pending = std::move(step);
  }
  dom::object tags;
  if (!root["tags"].get(tags)) {
    for (auto field : tags) {
      std::string_view value;
      if (field.value.get(value)) return bad("bad tag value");
      m.tags[std::string(field.key)] = std::string(value);
    }
  }
  dom::array consumers;
  if (!root["consumers"].get(consumers)) {
    for (dom::element e : consumers) {
      ConsumerMeta c;
      std::string_view consumer_name;
      if (e["name"].get(consumer_name) || e["created_ms"].get(c.created_ms))
        return bad("bad consumer entry");
      c.name = std::string(consumer_name);
      int64_t deleting = 0;
      if (!e["deleting_ms"].get(deleting)) c.deleting_ms = deleting;
      m.consumers.push_back(std::move(c));
    }
  }
  return m;
}

}  // namespace kstream
