// The Kinesis Producer Library's aggregated record: many user records packed
// into the data of one Kinesis record.
//
//   magic F3 89 9A C2 | protobuf AggregatedRecord | MD5 of the protobuf bytes
//
//   AggregatedRecord { repeated string partition_key_table = 1;
//                      repeated string explicit_hash_key_table = 2;
//                      repeated Record records = 3; }
//   Record { required uint64 partition_key_index = 1;
//            optional uint64 explicit_hash_key_index = 2;
//            required bytes data = 3;  repeated Tag tags = 4; }
//
// Aggregator writes it field by field in schema order (the tables, then the
// records), with de-duplicated keys, which is byte for byte what the KPL and
// the aws-kinesis-agg modules write. Decoder reads any valid encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/hash_key.h"

namespace kstream::kpl {

inline constexpr std::string_view kMagic{"\xF3\x89\x9A\xC2", 4};
inline constexpr size_t kDigestSize = 16;
inline constexpr size_t kFixedOverhead = kMagic.size() + kDigestSize;

// KPL defaults (AggregationMaxCount, AggregationMaxSize).
inline constexpr uint64_t kDefaultMaxCount = 4294967295;
inline constexpr size_t kDefaultMaxSize = 51200;

// Whether data starts with the magic (an aggregate, or a damaged one).
inline bool HasMagic(std::string_view data) {
  return data.size() >= kMagic.size() && data.substr(0, kMagic.size()) == kMagic;
}

struct UserRecord {
  std::string_view partition_key;
  std::optional<uint128> explicit_hash_key;
  std::string_view data;
};

// Builds one aggregated record from user records. Not thread-safe.
class Aggregator {
 public:
  // Bytes of the whole record (magic, protobuf, digest) if r were added.
  size_t SizeWith(const UserRecord& r) const;
  void Add(const UserRecord& r);
  // Bytes of the whole record as it stands (kFixedOverhead when empty).
  size_t size() const {
    return kFixedOverhead + keys_.size() + hash_keys_.size() + records_.size();
  }
  size_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Appends the encoded record to out.
  void AppendTo(std::string& out) const;
  void Clear();

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using KeyTable = std::unordered_map<std::string, uint64_t, StringHash, std::equal_to<>>;
  // The index a key has, or would get if added.
  static uint64_t IndexOf(const KeyTable& table, std::string_view key);
  static size_t RecordBodySize(uint64_t key_index, const std::optional<uint64_t>& hash_key_index,
                               size_t data_size);

  std::string keys_, hash_keys_, records_;  // encoded fields 1, 2 and 3
  KeyTable key_index_;
  KeyTable hash_key_index_;  // by decimal text, as on the wire
  size_t count_ = 0;
};

// Reads aggregated records. Not thread-safe; records() points into the data
// last decoded and holds until the next Decode.
class Decoder {
 public:
  enum class Result {
    kPlain,      // no magic: an ordinary record
    kAggregate,  // records() are its user records, in order
    kMalformed,  // magic, but too short, a wrong digest, bad protobuf, an index
                 // out of its table, a bad hash key or no records: error()
  };
  Result Decode(std::string_view data);
  const std::vector<UserRecord>& records() const { return records_; }
  const std::string& error() const { return error_; }

 private:
  Result Malformed(std::string why);
  bool ParseRecord(std::string_view bytes, UserRecord& r, uint64_t& key_index,
                   std::optional<uint64_t>& hash_key_index);

  std::vector<std::string_view> keys_;
  std::vector<uint128> hash_keys_;
  std::vector<std::string_view> encoded_records_;
  std::vector<UserRecord> records_;
  std::string error_;
};

}  // namespace kstream::kpl
