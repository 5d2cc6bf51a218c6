// Group keys and the table of groups of one window. A record's group key is
// built into a reused buffer (no allocation per record); a new group copies
// its key and its output fields ("device":"d-1",...) into the table's arena
// once. Groups come out in the order they first appeared.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "window/aggregates.h"
#include "window/value.h"

namespace kstream::window {

// The group-by fields of a run: their output names and slots.
struct GroupFields {
  std::vector<std::string> names;
  std::vector<int> slots;
  bool empty() const { return slots.empty(); }
  // Builds the key of a record: per field its kind and its text. Fails
  // (InvalidArgument) when a field is missing.
  Status BuildKey(const std::vector<FieldValue>& values, std::string& key) const;
  // Appends ,"name":value for each field of key.
  void AppendFields(std::string& out, std::string_view key) const;
};

class GroupTable {
 public:
  GroupTable(const Aggregates& aggs, const GroupFields& fields) : fields_(&fields), rows_(aggs) {}
  GroupTable(const GroupTable&) = delete;
  GroupTable& operator=(const GroupTable&) = delete;

  // The row of the group with this key (hash = HashBytes(key)), added when new.
  uint32_t FindOrAdd(std::string_view key, uint64_t hash);
  RowStore& rows() { return rows_; }
  size_t size() const { return groups_.size(); }
  // Appends one line per group: prefix (the window fields), the group's
  // fields, its aggregates, "}\n".
  void AppendLines(std::string& out, std::string_view prefix);

 private:
  struct Group {
    uint64_t hash;
    size_t key_offset;  // in arena_: the key, then the output fields
    uint32_t key_size, fields_size;
  };
  void Grow();

  const GroupFields* fields_;
  RowStore rows_;
  std::vector<Group> groups_;    // row i is groups_[i]
  std::vector<uint32_t> slots_;  // open addressing: row + 1, 0 = empty
  std::string arena_;
};

}  // namespace kstream::window
