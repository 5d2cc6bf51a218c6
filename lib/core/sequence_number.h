// Sequence numbers as every backend hands them out. The local store issues
// 128-bit ones ((shard index + 1) << 64 | counter, see hash_key.h); Amazon
// Kinesis issues 56-digit (188-bit) ones, and its API allows up to 129 digits.
// SequenceNumber holds any of them exactly, compares numerically (as the KCL's
// BigInteger does), and prints as the same decimal text it was parsed from.
// A plain value type.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/hash_key.h"
#include "core/status.h"

namespace kstream {

class SequenceNumber {
 public:
  static constexpr size_t kMaxDigits = 129;  // the API's limit
  constexpr SequenceNumber() = default;
  // Implicit: every local-store number is one.
  constexpr SequenceNumber(uint128 v) : w_{uint64_t(v), uint64_t(v >> 64)} {}  // NOLINT

  // Strict decimal: 1-129 digits, no sign, no leading zeros (except "0").
  static Result<SequenceNumber> Parse(std::string_view text, std::string_view what);

  bool fits_128() const;
  uint128 low128() const { return (uint128(w_[1]) << 64) | w_[0]; }
  // Bits [lo, lo + n) as an integer, n <= 64.
  uint64_t Bits(unsigned lo, unsigned n) const;

  friend bool operator==(const SequenceNumber&, const SequenceNumber&) = default;
  friend std::strong_ordering operator<=>(const SequenceNumber& a, const SequenceNumber& b) {
    for (size_t i = kWords; i-- > 0;)
      if (a.w_[i] != b.w_[i]) return a.w_[i] <=> b.w_[i];
    return std::strong_ordering::equal;
  }

 private:
  friend void AppendDecimal(std::string& out, const SequenceNumber& v);
  static constexpr size_t kWords = 7;  // 448 bits > 10^129
  std::array<uint64_t, kWords> w_{};   // least significant word first
};

void AppendDecimal(std::string& out, const SequenceNumber& v);
std::string ToDecimal(const SequenceNumber& v);

// The shard index and per-shard counter a sequence number encodes: the local
// layout for 128-bit numbers, the Kinesis layout (47 hex digits: version 2,
// shard creation time, counter, arrival time, shard index, version 2) for
// wider ones; nullopt for a number in neither layout.
std::optional<uint64_t> SequenceShardIndex(const SequenceNumber& seq);
std::optional<uint64_t> SequenceCounter(const SequenceNumber& seq);

}  // namespace kstream
