// A fast, well-mixed 64-bit hash of byte strings (after wyhash, public
// domain): group keys of the window tables and the HyperLogLog and top-K
// sketches hash with it. Not for security; stable within a process only.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace kstream::window {

namespace hash_internal {
inline uint64_t Mix(uint64_t a, uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return uint64_t(r) ^ uint64_t(r >> 64);
}
inline uint64_t Read8(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t Read4(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline constexpr uint64_t kSecret[4] = {0x2d358dccaa6c78a5ull, 0x8bb84b93962eacc9ull,
                                        0x4b33a62ed433d4a3ull, 0x4d5a2da51de1aa47ull};
}  // namespace hash_internal

inline uint64_t HashBytes(std::string_view s, uint64_t seed = 0) {
  using namespace hash_internal;
  const char* p = s.data();
  size_t len = s.size();
  seed ^= Mix(seed ^ kSecret[0], kSecret[1]);
  uint64_t a, b;
  if (len <= 16) {
    if (len >= 4) {
      a = (Read4(p) << 32) | Read4(p + ((len >> 3) << 2));
      b = (Read4(p + len - 4) << 32) | Read4(p + len - 4 - ((len >> 3) << 2));
    } else if (len > 0) {
      const auto* u = reinterpret_cast<const unsigned char*>(p);
      a = (uint64_t(u[0]) << 16) | (uint64_t(u[len >> 1]) << 8) | u[len - 1];
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    size_t i = len;
    if (i > 48) {
      uint64_t see1 = seed, see2 = seed;
      do {
        seed = Mix(Read8(p) ^ kSecret[1], Read8(p + 8) ^ seed);
        see1 = Mix(Read8(p + 16) ^ kSecret[2], Read8(p + 24) ^ see1);
        see2 = Mix(Read8(p + 32) ^ kSecret[3], Read8(p + 40) ^ see2);
        p += 48;
        i -= 48;
      } while (i > 48);
      seed ^= see1 ^ see2;
    }
    while (i > 16) {
      seed = Mix(Read8(p) ^ kSecret[1], Read8(p + 8) ^ seed);
      i -= 16;
      p += 16;
    }
    a = Read8(p + i - 16);
    b = Read8(p + i - 8);
  }
  return Mix(kSecret[1] ^ len, Mix(a ^ kSecret[1], b ^ seed));
}

}  // namespace kstream::window
