// Unsigned 128-bit hash keys and sequence numbers, and partition-key hashing.
//
// Kinesis routes a record by MD5(partition key) read as a big-endian unsigned
// 128-bit integer, or by an explicit hash key given as a decimal string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace kstream {

using uint128 = unsigned __int128;

inline constexpr uint128 kMaxHashKey = ~uint128(0);

// Decimal text of v, no leading zeros ("0" for zero).
std::string ToDecimal(uint128 v);
// Appends the decimal text of v to out (no allocation when out has room).
void AppendDecimal(std::string& out, uint128 v);
// Strict decimal parse: 1-39 digits, no sign, no leading zeros (except "0"),
// value at most 2^128-1. `what` names the value in the error message.
Result<uint128> ParseDecimal128(std::string_view text, std::string_view what);

// MD5 of the key's bytes, big-endian: digest byte 0 is the most significant.
uint128 HashPartitionKey(std::string_view partition_key);

// Sequence numbers: (shard index + 1) << 64 | per-shard counter. Unique in a
// stream (the shard is encoded), increasing within a shard, and a child shard's
// numbers exceed its parents' because children get larger indices.
inline uint128 MakeSequenceNumber(uint64_t shard_index, uint64_t counter) {
  return (uint128(shard_index + 1) << 64) | counter;
}
inline uint64_t SequenceShardIndex(uint128 seq) {
  return uint64_t(seq >> 64) - 1;
}
inline uint64_t SequenceCounter(uint128 seq) {
  return uint64_t(seq);
}

}  // namespace kstream
