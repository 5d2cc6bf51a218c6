#include "window/hll.h"

#include <cmath>
#include <limits>

namespace kstream::window {

void HyperLogLog::Add(uint64_t hash) {
  if (!registers_.empty()) return AddToRegisters(hash);
  AddToSet(hash);
  if (set_size_ > kExactLimit) ToRegisters();
}

void HyperLogLog::AddToSet(uint64_t hash) {
  if (hash == 0) hash = 1;  // 0 marks an empty slot
  if (set_.empty()) set_.assign(16, 0);
  if ((set_size_ + 1) * 2 > set_.size()) {
    std::vector<uint64_t> old(set_.size() * 2, 0);
    old.swap(set_);
    set_size_ = 0;
    for (uint64_t h : old)
      if (h) AddToSet(h);
  }
  const size_t mask = set_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    if (set_[i] == hash) return;
    if (set_[i] == 0) {
      set_[i] = hash;
      ++set_size_;
      return;
    }
  }
}

void HyperLogLog::AddToRegisters(uint64_t hash) {
  const size_t index = hash >> (64 - kPrecision);
  const uint64_t rest = hash << kPrecision;  // the other 64-p bits, left-aligned
  const int q = 64 - kPrecision;
  const uint8_t rank = rest == 0 ? uint8_t(q + 1) : uint8_t(__builtin_clzll(rest) + 1);
  if (rank > registers_[index]) registers_[index] = rank;
}

void HyperLogLog::ToRegisters() {
  registers_.assign(kRegisters, 0);
  for (uint64_t h : set_)
    if (h) AddToRegisters(h);
  std::vector<uint64_t>().swap(set_);
  set_size_ = 0;
}

void HyperLogLog::Merge(const HyperLogLog& other) {
  if (other.registers_.empty()) {
    for (uint64_t h : other.set_)
      if (h) Add(h);
    return;
  }
  if (registers_.empty()) ToRegisters();
  for (size_t i = 0; i < kRegisters; ++i)
    if (other.registers_[i] > registers_[i]) registers_[i] = other.registers_[i];
}

namespace {
double Sigma(double x) {
  if (x == 1) return std::numeric_limits<double>::infinity();
  double y = 1, z = x, prev;
  do {
    x *= x;
    prev = z;
    z += x * y;
    y += y;
  } while (z != prev);
  return z;
}
double Tau(double x) {
  if (x == 0 || x == 1) return 0;
  double y = 1, z = 1 - x, prev;
  do {
    x = std::sqrt(x);
    prev = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (z != prev);
  return z / 3;
}
}  // namespace

double HyperLogLog::Estimate() const {
  if (registers_.empty()) return double(set_size_);
  const int q = 64 - kPrecision;
  uint64_t c[64 + 2] = {};
  for (uint8_t r : registers_) ++c[r];
  const double m = double(kRegisters);
  double z = m * Tau(1 - double(c[q + 1]) / m);
  for (int k = q; k >= 1; --k) z = 0.5 * (z + double(c[k]));
  z += m * Sigma(double(c[0]) / m);
  const double alpha_inf = 0.5 / std::log(2.0);
  return alpha_inf * m * m / z;
}

}  // namespace kstream::window
