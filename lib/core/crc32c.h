// CRC-32C (Castagnoli), hardware accelerated where the CPU has SSE4.2.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kstream::crc32c {

// Extends `crc` (the CRC of some earlier bytes, 0 to start) over data[0, n).
uint32_t Extend(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) {
  return Extend(0, data, n);
}

// Stored CRCs are masked, as in LevelDB: a CRC computed over bytes that embed
// CRCs is otherwise prone to accidental matches.
inline uint32_t Mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace kstream::crc32c
