#include "core/sequence_number.h"

#include <algorithm>

namespace kstream {

namespace {
constexpr uint64_t k1e19 = 10000000000000000000ull;

// The Kinesis layout in bits, from the least significant: version nibble 2
// [0,4), shard index [4,36), arrival seconds [40,76), counter [80,144),
// shard index low nibble [144,148), creation seconds [148,184), version 2
// [184,188).
bool IsKinesisLayout(const SequenceNumber& s) {
  return !s.fits_128() && s.Bits(0, 4) == 2 && s.Bits(184, 4) == 2 && s.Bits(188, 64) == 0 &&
         s.Bits(252, 64) == 0 && s.Bits(316, 64) == 0 && s.Bits(380, 64) == 0 &&
         s.Bits(444, 4) == 0;
}
}  // namespace

Result<SequenceNumber> SequenceNumber::Parse(std::string_view text, std::string_view what) {
  auto bad = [&](const char* why) {
    return Status::InvalidArgument(std::string(what) + " '" + std::string(text.substr(0, 140)) +
                                   "' " + why);
  };
  if (text.empty()) return bad("is empty");
  if (text.size() > kMaxDigits) return bad("has more than 129 digits");
  if (text.size() > 1 && text[0] == '0') return bad("has a leading zero");
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return bad("is not a decimal integer");
  if (text.size() <= 39) {
    KS_ASSIGN_OR_RETURN(const uint128 v, ParseDecimal128(text, what));
    return SequenceNumber(v);
  }
  // value = value * 10^n + chunk, 19 digits at a time; 129 digits fit in 448 bits.
  SequenceNumber v;
  for (size_t at = 0; at < text.size();) {
    const size_t n = std::min<size_t>(19, text.size() - at);
    uint64_t chunk = 0, scale = 1;
    for (size_t i = 0; i < n; ++i) {
      chunk = chunk * 10 + uint64_t(text[at + i] - '0');
      scale *= 10;
    }
    at += n;
    uint128 carry = chunk;
    for (uint64_t& w : v.w_) {
      const uint128 x = uint128(w) * scale + carry;
      w = uint64_t(x);
      carry = x >> 64;
    }
  }
  return v;
}

bool SequenceNumber::fits_128() const {
  return std::all_of(w_.begin() + 2, w_.end(), [](uint64_t w) { return w == 0; });
}

uint64_t SequenceNumber::Bits(unsigned lo, unsigned n) const {
  uint64_t out = 0;
  for (unsigned i = 0; i < n; ++i) {
    const unsigned bit = lo + i;
    if (bit / 64 >= kWords) break;
    out |= ((w_[bit / 64] >> (bit % 64)) & 1) << i;
  }
  return out;
}

void AppendDecimal(std::string& out, const SequenceNumber& v) {
  if (v.fits_128()) return AppendDecimal(out, v.low128());
  // Repeated division by 10^19 gives base-10^19 digits, least significant first.
  std::array<uint64_t, SequenceNumber::kWords> w = v.w_;
  std::string chunks[8];
  size_t count = 0;
  while (std::any_of(w.begin(), w.end(), [](uint64_t x) { return x != 0; })) {
    uint128 rem = 0;
    for (size_t i = w.size(); i-- > 0;) {
      const uint128 cur = (rem << 64) | w[i];
      w[i] = uint64_t(cur / k1e19);
      rem = cur % k1e19;
    }
    chunks[count++] = std::to_string(uint64_t(rem));
  }
  out += chunks[count - 1];
  for (size_t i = count - 1; i-- > 0;) {
    out.append(19 - chunks[i].size(), '0');
    out += chunks[i];
  }
}

std::string ToDecimal(const SequenceNumber& v) {
  std::string s;
  AppendDecimal(s, v);
  return s;
}

std::optional<uint64_t> SequenceShardIndex(const SequenceNumber& seq) {
  if (seq.fits_128()) {
    if (seq.low128() >> 64 == 0) return std::nullopt;
    return SequenceShardIndex(seq.low128());
  }
  if (IsKinesisLayout(seq)) return seq.Bits(4, 32);
  return std::nullopt;
}

std::optional<uint64_t> SequenceCounter(const SequenceNumber& seq) {
  if (seq.fits_128()) {
    if (seq.low128() >> 64 == 0) return std::nullopt;
    return SequenceCounter(seq.low128());
  }
  if (IsKinesisLayout(seq)) return seq.Bits(80, 64);
  return std::nullopt;
}

}  // namespace kstream
