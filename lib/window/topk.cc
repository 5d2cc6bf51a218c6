#include "window/topk.h"

#include <algorithm>

namespace kstream::window {

TopK& TopK::operator=(const TopK& other) {
  if (this == &other) return *this;
  capacity_ = other.capacity_;
  entries_ = other.entries_;
  heap_ = other.heap_;
  heap_pos_ = other.heap_pos_;
  index_.clear();  // views must point into our own entries
  for (uint32_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].value, i);
  return *this;
}

void TopK::Swap(size_t a, size_t b) {
  std::swap(heap_[a], heap_[b]);
  heap_pos_[heap_[a]] = uint32_t(a);
  heap_pos_[heap_[b]] = uint32_t(b);
}

// A count only grows, so an entry only moves down the min-heap.
void TopK::SiftDown(size_t pos) {
  const size_t n = heap_.size();
  for (;;) {
    size_t smallest = pos;
    for (size_t c = 2 * pos + 1; c <= 2 * pos + 2 && c < n; ++c)
      if (entries_[heap_[c]].count < entries_[heap_[smallest]].count) smallest = c;
    if (smallest == pos) return;
    Swap(pos, smallest);
    pos = smallest;
  }
}

void TopK::Add(std::string_view value, uint64_t count, uint64_t error) {
  if (auto it = index_.find(value); it != index_.end()) {
    Entry& e = entries_[it->second];
    e.count += count;
    e.error += error;
    SiftDown(heap_pos_[it->second]);
    return;
  }
  if (entries_.size() < capacity_) {
    const uint32_t i = uint32_t(entries_.size());
    entries_.push_back({std::string(value), count, error});
    index_.emplace(entries_.back().value, i);
    heap_pos_.push_back(uint32_t(heap_.size()));
    heap_.push_back(i);
    // New entries sit at the bottom; move up while smaller than the parent.
    for (size_t pos = heap_.size() - 1; pos > 0;) {
      const size_t parent = (pos - 1) / 2;
      if (entries_[heap_[parent]].count <= entries_[heap_[pos]].count) break;
      Swap(pos, parent);
      pos = parent;
    }
    return;
  }
  // Full: the least counted value gives its counter to the new one.
  const uint32_t i = heap_[0];
  Entry& e = entries_[i];
  index_.erase(e.value);
  e.error = e.count + error;
  e.count += count;
  e.value.assign(value);
  index_.emplace(e.value, i);
  SiftDown(0);
}

void TopK::Merge(const TopK& other) {
  for (const Entry& e : other.entries_) Add(e.value, e.count, e.error);
}

std::vector<const TopK::Entry*> TopK::Top(size_t k) const {
  std::vector<const Entry*> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.push_back(&e);
  const size_t n = std::min(k, out.size());
  std::partial_sort(out.begin(), out.begin() + long(n), out.end(),
                    [](const Entry* a, const Entry* b) {
                      return a->count != b->count ? a->count > b->count : a->value < b->value;
                    });
  out.resize(n);
  return out;
}

}  // namespace kstream::window
