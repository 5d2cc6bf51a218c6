// Quantile summary (--percentile) after Greenwald and Khanna ("Space-
// efficient online computation of quantile summaries", 2001), fed in sorted
// batches as Spark's QuantileSummaries does. Deterministic guarantee: the
// value returned for quantile q has a rank within epsilon * n of ceil(q * n).
// The tool uses epsilon = 0.005 against a promised 1%. Exact for small n
// (while epsilon * n < 1). Memory: about a few thousand 24-byte tuples at
// most, plus a 512-value insert buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kstream::window {

class QuantileSketch {
 public:
  explicit QuantileSketch(double epsilon = 0.005) : epsilon_(epsilon) {}

  void Add(double v) {
    buffer_.push_back(v);
    if (buffer_.size() >= kBuffer) Flush();
  }
  void Merge(QuantileSketch& other);
  // Nearest-rank quantile, q in [0, 1]: a value whose rank is within
  // epsilon * n of ceil(q * n) (q = 0: the minimum). n must be > 0.
  double Quantile(double q);
  uint64_t count() const { return n_ + buffer_.size(); }
  size_t tuples() const { return tuples_.size(); }

 private:
  static constexpr size_t kBuffer = 512;
  struct Tuple {
    double v;
    uint64_t g;      // rmin(this) - rmin(previous)
    uint64_t delta;  // rmax(this) - rmin(this)
  };
  void Flush();
  void Compress();

  double epsilon_;
  uint64_t n_ = 0;  // values in tuples_
  std::vector<double> buffer_;
  std::vector<Tuple> tuples_;
};

}  // namespace kstream::window
