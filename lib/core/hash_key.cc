// OpenSSL 3 marks the one-shot MD5() deprecated; it stays the fastest way to
// hash a short key (EVP adds a context allocation per call).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "core/hash_key.h"

#include <openssl/md5.h>

namespace kstream {

namespace {
// Writes v's digits backwards ending at end; pads with zeros to min_digits.
char* FormatU64Backwards(char* end, uint64_t v, int min_digits) {
  char* p = end;
  do {
    *--p = char('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (end - p < min_digits) *--p = '0';
  return p;
}
}  // namespace

void AppendDecimal(std::string& out, uint128 v) {
  // Sequence numbers are formatted per record: avoid a 128-bit division per
  // digit by splitting into base-10^19 chunks that fit in 64 bits.
  constexpr uint64_t k1e19 = 10000000000000000000ull;
  char buf[40];
  char* end = buf + sizeof(buf);
  char* p;
  if (v <= ~uint64_t(0)) {
    p = FormatU64Backwards(end, uint64_t(v), 1);
  } else {
    const uint128 high = v / k1e19;
    p = FormatU64Backwards(end, uint64_t(v - high * k1e19), 19);
    if (high <= ~uint64_t(0)) {
      p = FormatU64Backwards(p, uint64_t(high), 1);
    } else {
      const uint64_t top = uint64_t(high / k1e19);
      p = FormatU64Backwards(p, uint64_t(high - uint128(top) * k1e19), 19);
      p = FormatU64Backwards(p, top, 1);
    }
  }
  out.append(p, size_t(end - p));
}

std::string ToDecimal(uint128 v) {
  std::string s;
  AppendDecimal(s, v);
  return s;
}

Result<uint128> ParseDecimal128(std::string_view text, std::string_view what) {
  auto bad = [&](const char* why) {
    return Status::InvalidArgument(std::string(what) + " '" + std::string(text.substr(0, 64)) +
                                   "' " + why);
  };
  if (text.empty()) return bad("is empty");
  if (text.size() > 39) return bad("is not a decimal integer below 2^128");
  if (text.size() > 1 && text[0] == '0') return bad("has a leading zero");
  uint128 v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad("is not a decimal integer");
    uint128 next = v * 10 + unsigned(c - '0');
    if (next / 10 != v) return bad("is larger than 2^128-1");
    v = next;
  }
  return v;
}

uint128 HashPartitionKey(std::string_view partition_key) {
  unsigned char digest[MD5_DIGEST_LENGTH];
  MD5(reinterpret_cast<const unsigned char*>(partition_key.data()), partition_key.size(), digest);
  uint128 v = 0;
  for (unsigned char b : digest) v = (v << 8) | b;
  return v;
}

}  // namespace kstream
