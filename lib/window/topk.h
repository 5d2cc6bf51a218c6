// Most frequent values (--top K:F) with the Space-Saving algorithm (Metwally,
// Agrawal, El Abbadi 2005): at most `capacity` counters. Counts are exact
// while no more than `capacity` distinct values were seen; after that a
// count may exceed the true one by at most (values seen) / capacity, and
// every value more frequent than that is in the table.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kstream::window {

class TopK {
 public:
  explicit TopK(size_t capacity = 1024) : capacity_(capacity) {}
  TopK(const TopK& other) { *this = other; }
  TopK& operator=(const TopK& other);

  struct Entry {
    std::string value;  // the value's JSON text (a string literal keeps its quotes)
    uint64_t count = 0;
    uint64_t error = 0;  // count may exceed the true count by this much
  };
  void Add(std::string_view value, uint64_t count = 1, uint64_t error = 0);
  void Merge(const TopK& other);
  // The k entries with the highest counts, highest first (ties: value order).
  std::vector<const Entry*> Top(size_t k) const;
  size_t size() const { return entries_.size(); }

 private:
  void SiftDown(size_t pos);
  void Swap(size_t a, size_t b);

  size_t capacity_;
  std::deque<Entry> entries_;       // a deque: the index holds views of the values
  std::vector<uint32_t> heap_;      // entry indices, min-heap by count
  std::vector<uint32_t> heap_pos_;  // entry index -> position in heap_
  std::unordered_map<std::string_view, uint32_t> index_;  // value -> entry
};

}  // namespace kstream::window
