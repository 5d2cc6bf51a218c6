// OpenSSL 3 marks the one-shot MD5() deprecated; it is the plainest way to
// digest one contiguous buffer (see core/hash_key.cc).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "kpl/aggregate.h"

#include <openssl/md5.h>

#include "kpl/wire.h"

namespace kstream::kpl {
namespace {

// Field numbers of the schema in aggregate.h.
constexpr uint32_t kKeyTableField = 1;
constexpr uint32_t kHashKeyTableField = 2;
constexpr uint32_t kRecordsField = 3;
constexpr uint32_t kKeyIndexField = 1;
constexpr uint32_t kHashKeyIndexField = 2;
constexpr uint32_t kDataField = 3;

void Md5(std::string_view bytes, unsigned char digest[kDigestSize]) {
  MD5(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
}

}  // namespace

uint64_t Aggregator::IndexOf(const KeyTable& table, std::string_view key) {
  auto it = table.find(key);
  return it == table.end() ? table.size() : it->second;
}

// The encoded Record message alone (without its tag and length).
size_t Aggregator::RecordBodySize(uint64_t key_index, const std::optional<uint64_t>& hash_key_index,
                                  size_t data_size) {
  size_t body = 1 + VarintSize(key_index) + LengthDelimitedSize(data_size);
  if (hash_key_index) body += 1 + VarintSize(*hash_key_index);
  return body;
}

size_t Aggregator::SizeWith(const UserRecord& r) const {
  size_t size = this->size();
  if (!key_index_.count(r.partition_key)) size += LengthDelimitedSize(r.partition_key.size());
  std::optional<uint64_t> hash_key_index;
  if (r.explicit_hash_key) {
    const std::string text = ToDecimal(*r.explicit_hash_key);
    hash_key_index = IndexOf(hash_key_index_, text);
    if (*hash_key_index == hash_key_index_.size()) size += LengthDelimitedSize(text.size());
  }
  return size + LengthDelimitedSize(RecordBodySize(IndexOf(key_index_, r.partition_key),
                                                   hash_key_index, r.data.size()));
}

void Aggregator::Add(const UserRecord& r) {
  const uint64_t key_index = IndexOf(key_index_, r.partition_key);
  if (key_index == key_index_.size()) {
    key_index_.emplace(std::string(r.partition_key), key_index);
    AppendLengthDelimited(keys_, kKeyTableField, r.partition_key);
  }
  std::optional<uint64_t> hash_key_index;
  if (r.explicit_hash_key) {
    std::string text = ToDecimal(*r.explicit_hash_key);
    hash_key_index = IndexOf(hash_key_index_, text);
    if (*hash_key_index == hash_key_index_.size()) {
      AppendLengthDelimited(hash_keys_, kHashKeyTableField, text);
      hash_key_index_.emplace(std::move(text), *hash_key_index);
    }
  }
  // Record {partition_key_index, explicit_hash_key_index?, data}, in field order.
  AppendTag(records_, kRecordsField, kLengthDelimited);
  AppendVarint(records_, RecordBodySize(key_index, hash_key_index, r.data.size()));
  AppendTag(records_, kKeyIndexField, kVarint);
  AppendVarint(records_, key_index);
  if (hash_key_index) {
    AppendTag(records_, kHashKeyIndexField, kVarint);
    AppendVarint(records_, *hash_key_index);
  }
  AppendLengthDelimited(records_, kDataField, r.data);
  ++count_;
}

void Aggregator::AppendTo(std::string& out) const {
  out.reserve(out.size() + size());
  out.append(kMagic);
  const size_t start = out.size();
  out += keys_;
  out += hash_keys_;
  out += records_;
  unsigned char digest[kDigestSize];
  Md5(std::string_view(out).substr(start), digest);
  out.append(reinterpret_cast<const char*>(digest), kDigestSize);
}

void Aggregator::Clear() {
  keys_.clear();
  hash_keys_.clear();
  records_.clear();
  key_index_.clear();
  hash_key_index_.clear();
  count_ = 0;
}

Decoder::Result Decoder::Malformed(std::string why) {
  error_ = std::move(why);
  records_.clear();
  return Result::kMalformed;
}

Decoder::Result Decoder::Decode(std::string_view data) {
  keys_.clear();
  hash_keys_.clear();
  encoded_records_.clear();
  records_.clear();
  error_.clear();
  if (!HasMagic(data)) return Result::kPlain;
  if (data.size() <= kFixedOverhead) return Malformed("too short for an aggregated record");
  const std::string_view message = data.substr(4, data.size() - kFixedOverhead);
  unsigned char digest[kDigestSize];
  Md5(message, digest);
  if (data.substr(data.size() - kDigestSize) !=
      std::string_view(reinterpret_cast<const char*>(digest), kDigestSize))
    return Malformed("MD5 digest does not match");

  // Tables and records may come in any order on the wire: collect, then resolve.
  WireReader in(message);
  uint32_t field;
  WireType type;
  while (in.NextTag(field, type)) {
    std::string_view bytes;
    if (field >= kKeyTableField && field <= kRecordsField) {
      if (type != kLengthDelimited)
        return Malformed("field " + std::to_string(field) + " has the wrong wire type");
      if (!in.ReadLengthDelimited(bytes)) break;
      if (field == kKeyTableField) {
        keys_.push_back(bytes);
      } else if (field == kRecordsField) {
        encoded_records_.push_back(bytes);
      } else {
        auto hash_key = ParseDecimal128(bytes, "explicit hash key");
        if (!hash_key.ok()) return Malformed(hash_key.status().message());
        hash_keys_.push_back(*hash_key);
      }
    } else if (!in.Skip(type)) {
      break;
    }
  }
  if (!in.ok()) return Malformed("truncated or damaged protobuf");
  if (encoded_records_.empty()) return Malformed("no user records");

  records_.reserve(encoded_records_.size());
  for (size_t i = 0; i < encoded_records_.size(); ++i) {
    UserRecord r;
    uint64_t key_index;
    std::optional<uint64_t> hash_key_index;
    if (!ParseRecord(encoded_records_[i], r, key_index, hash_key_index))
      return Malformed("user record " + std::to_string(i) + ": " + error_);
    if (key_index >= keys_.size())
      return Malformed("user record " + std::to_string(i) + ": partition key index " +
                       std::to_string(key_index) + " is outside the table of " +
                       std::to_string(keys_.size()));
    r.partition_key = keys_[key_index];
    if (hash_key_index) {
      if (*hash_key_index >= hash_keys_.size())
        return Malformed("user record " + std::to_string(i) + ": explicit hash key index " +
                         std::to_string(*hash_key_index) + " is outside the table of " +
                         std::to_string(hash_keys_.size()));
      r.explicit_hash_key = hash_keys_[*hash_key_index];
    }
    records_.push_back(r);
  }
  return Result::kAggregate;
}

bool Decoder::ParseRecord(std::string_view bytes, UserRecord& r, uint64_t& key_index,
                          std::optional<uint64_t>& hash_key_index) {
  WireReader in(bytes);
  bool has_key = false, has_data = false;
  uint32_t field;
  WireType type;
  while (in.NextTag(field, type)) {
    if (field == kKeyIndexField && type == kVarint) {
      has_key = in.ReadVarint(key_index);
    } else if (field == kHashKeyIndexField && type == kVarint) {
      uint64_t v;
      if (in.ReadVarint(v)) hash_key_index = v;
    } else if (field == kDataField && type == kLengthDelimited) {
      has_data = in.ReadLengthDelimited(r.data);
    } else if (field <= kDataField) {
      error_ = "field " + std::to_string(field) + " has the wrong wire type";
      return false;
    } else {
      in.Skip(type);  // tags (4) and anything newer
    }
  }
  if (!in.ok()) {
    error_ = "truncated or damaged protobuf";
    return false;
  }
  if (!has_key || !has_data) {
    error_ = has_key ? "no data" : "no partition key index";
    return false;
  }
  return true;
}

}  // namespace kstream::kpl
