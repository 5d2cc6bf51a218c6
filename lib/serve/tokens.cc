#include "serve/tokens.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "core/text.h"

namespace kstream::serve {
namespace {

constexpr unsigned char kKey[] = "kstream-serve token key v1";
constexpr size_t kMacBytes = 12;
constexpr char kIteratorTag = 'I';
constexpr char kPageTag = 'P';

std::string Mac(std::string_view payload) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kKey, sizeof(kKey) - 1, reinterpret_cast<const unsigned char*>(payload.data()),
       payload.size(), digest, &len);
  return std::string(reinterpret_cast<const char*>(digest), kMacBytes);
}

std::string Seal(std::string payload) {
  payload += Mac(payload);
  std::string out;
  AppendBase64(out, payload);
  return out;
}

// The payload if the token is one of ours and its MAC matches.
bool Unseal(std::string_view token, std::string& payload) {
  if (token.empty() || token.size() > 512 || !DecodeBase64(token, payload) ||
      payload.size() <= kMacBytes)
    return false;
  const std::string_view body(payload.data(), payload.size() - kMacBytes);
  const std::string mac = Mac(body);
  if (CRYPTO_memcmp(mac.data(), payload.data() + body.size(), kMacBytes) != 0) return false;
  payload.resize(body.size());
  return true;
}

// Fixed-width little-endian fields and length-prefixed strings.
void Put64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += char(v >> (8 * i));
}
void PutString(std::string& out, std::string_view s) {
  out += char(uint8_t(s.size()));
  out.append(s.substr(0, 255));
}

struct Reader {
  std::string_view in;
  bool ok = true;
  uint64_t U64() {
    if (in.size() < 8) return ok = false, 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(uint8_t(in[size_t(i)])) << (8 * i);
    in.remove_prefix(8);
    return v;
  }
  uint8_t U8() {
    if (in.empty()) return ok = false, 0;
    uint8_t v = uint8_t(in[0]);
    in.remove_prefix(1);
    return v;
  }
  std::string Str() {
    const size_t n = U8();
    if (!ok || in.size() < n) return ok = false, std::string();
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

}  // namespace

std::string EncodeShardIterator(const ShardIterator& it) {
  std::string p(1, kIteratorTag);
  PutString(p, it.stream);
  Put64(p, uint64_t(it.stream_created_ms));
  Put64(p, it.shard_index);
  p += char(it.kind);
  Put64(p, it.kind == ShardIterator::Kind::kAtTimestamp ? uint64_t(it.timestamp_ms) : it.counter);
  Put64(p, uint64_t(it.issued_ms));
  return Seal(std::move(p));
}

ApiOr<ShardIterator> DecodeShardIterator(std::string_view token, int64_t now_ms) {
  const ApiError invalid = ApiError::InvalidArgument("Invalid ShardIterator.");
  std::string payload;
  if (!Unseal(token, payload) || payload[0] != kIteratorTag) return invalid;
  Reader r{std::string_view(payload).substr(1)};
  ShardIterator it;
  it.stream = r.Str();
  it.stream_created_ms = int64_t(r.U64());
  it.shard_index = r.U64();
  const uint8_t kind = r.U8();
  const uint64_t value = r.U64();
  it.issued_ms = int64_t(r.U64());
  if (!r.ok || !r.in.empty() || kind < 1 || kind > 3) return invalid;
  it.kind = ShardIterator::Kind(kind);
  if (it.kind == ShardIterator::Kind::kAtTimestamp)
    it.timestamp_ms = int64_t(value);
  else
    it.counter = value;
  if (now_ms - it.issued_ms > kTokenLifetimeMs)
    return ApiError{"ExpiredIteratorException",
                    "Iterator expired. The iterator was created at time " +
                        FormatTimestamp(it.issued_ms) + " while right now it is " +
                        FormatTimestamp(now_ms) + " which is further in the future than the " +
                        "tolerated delay of 300000 milliseconds."};
  return it;
}

std::string EncodePageToken(const PageToken& t) {
  std::string p(1, kPageTag);
  PutString(p, t.stream);
  PutString(p, t.after);
  PutString(p, t.filter_type);
  PutString(p, t.filter_shard);
  Put64(p, uint64_t(t.filter_timestamp_ms));
  Put64(p, uint64_t(t.issued_ms));
  return Seal(std::move(p));
}

ApiOr<PageToken> DecodePageToken(std::string_view token, int64_t now_ms) {
  const ApiError invalid = ApiError::InvalidArgument("Invalid NextToken.");
  std::string payload;
  if (!Unseal(token, payload) || payload[0] != kPageTag) return invalid;
  Reader r{std::string_view(payload).substr(1)};
  PageToken t;
  t.stream = r.Str();
  t.after = r.Str();
  t.filter_type = r.Str();
  t.filter_shard = r.Str();
  t.filter_timestamp_ms = int64_t(r.U64());
  t.issued_ms = int64_t(r.U64());
  if (!r.ok || !r.in.empty()) return invalid;
  if (now_ms - t.issued_ms > kTokenLifetimeMs)
    return ApiError{"ExpiredNextTokenException",
                    "The NextToken has expired: it is valid for 300 seconds."};
  return t;
}

}  // namespace kstream::serve
