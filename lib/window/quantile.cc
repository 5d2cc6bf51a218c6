#include "window/quantile.h"

#include <algorithm>
#include <cmath>

namespace kstream::window {

// Merges the sorted buffer into the tuples. A value inserted before tuple t
// gets g = 1 and delta = t.g + t.delta - 1 (0 at either end), as in GK.
void QuantileSketch::Flush() {
  if (buffer_.empty()) return;
  std::sort(buffer_.begin(), buffer_.end());
  std::vector<Tuple> out;
  out.reserve(tuples_.size() + buffer_.size());
  size_t t = 0;
  for (double v : buffer_) {
    while (t < tuples_.size() && tuples_[t].v <= v) out.push_back(tuples_[t++]);
    uint64_t delta = 0;
    if (t < tuples_.size() && !out.empty()) delta = tuples_[t].g + tuples_[t].delta - 1;
    out.push_back({v, 1, delta});
  }
  while (t < tuples_.size()) out.push_back(tuples_[t++]);
  n_ += buffer_.size();
  buffer_.clear();
  tuples_.swap(out);
  Compress();
}

// Merges a tuple into its right neighbour while their band allows it; the
// first and last tuples (minimum and maximum) stay.
void QuantileSketch::Compress() {
  const uint64_t limit = uint64_t(std::floor(2 * epsilon_ * double(n_)));
  if (tuples_.size() < 3 || limit == 0) return;
  std::vector<Tuple> out;
  out.reserve(tuples_.size());
  out.push_back(tuples_.back());
  for (size_t i = tuples_.size() - 2; i >= 1; --i) {
    const Tuple& t = tuples_[i];
    Tuple& head = out.back();
    if (out.size() > 1 && t.g + head.g + head.delta <= limit) {
      head.g += t.g;
    } else {
      out.push_back(t);
    }
  }
  out.push_back(tuples_.front());
  std::reverse(out.begin(), out.end());
  tuples_.swap(out);
}

// GK merge: a tuple of one summary placed before tuple s of the other widens
// its delta by s.g + s.delta - 1, so the bands add up and stay within
// epsilon * (n1 + n2).
void QuantileSketch::Merge(QuantileSketch& other) {
  Flush();
  other.Flush();
  if (other.tuples_.empty()) return;
  if (tuples_.empty()) {
    tuples_ = other.tuples_;
    n_ = other.n_;
    return;
  }
  std::vector<Tuple> out;
  out.reserve(tuples_.size() + other.tuples_.size());
  const std::vector<Tuple>& a = tuples_;
  const std::vector<Tuple>& b = other.tuples_;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const bool take_a = j == b.size() || (i < a.size() && a[i].v <= b[j].v);
    Tuple t = take_a ? a[i] : b[j];
    const std::vector<Tuple>& rest = take_a ? b : a;
    const size_t next = take_a ? j : i;
    if (next < rest.size() && next > 0) t.delta += rest[next].g + rest[next].delta - 1;
    out.push_back(t);
    take_a ? ++i : ++j;
  }
  tuples_.swap(out);
  n_ += other.n_;
  Compress();
}

double QuantileSketch::Quantile(double q) {
  Flush();
  if (tuples_.empty()) return NAN;
  const double n = double(n_);
  const double rank = std::clamp(std::ceil(q * n), 1.0, n);
  const double bound = epsilon_ * n;
  uint64_t rmin = 0;
  for (const Tuple& t : tuples_) {
    rmin += t.g;
    const double rmax = double(rmin + t.delta);
    if (rank - double(rmin) <= bound && rmax - rank <= bound) return t.v;
  }
  return tuples_.back().v;
}

}  // namespace kstream::window
