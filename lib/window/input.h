// Input records of kstream-window: NDJSON (simdjson On-Demand) or CSV with a
// header, read into the fields a run needs. The fields are registered once
// (FieldSet) and each gets a slot; parsing a record fills every slot in one
// pass over the record, without allocating.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "core/status.h"
#include "io/json_input.h"
#include "window/value.h"

namespace kstream::window {

// The fields a run reads, by dotted path; each distinct path has one slot.
class FieldSet {
 public:
  // Returns the slot of path, adding it when new. needs_text: the text of a
  // number is used (keys, --top, --distinct, --where), not only its value.
  int Add(const FieldPath& path, bool needs_text = true);
  size_t size() const { return paths_.size(); }
  const std::vector<FieldPath>& paths() const { return paths_; }
  bool needs_text(size_t slot) const { return needs_text_[slot]; }

 private:
  std::vector<FieldPath> paths_;
  std::vector<bool> needs_text_;
};

// Parses one record (a line) into the slots of a FieldSet. Not thread-safe.
class RecordParser {
 public:
  virtual ~RecordParser() = default;
  // `line` must be followed by 64 readable bytes (RecordReader's padding).
  // Fills values[slot] for every slot (kMissing when absent); the views stay
  // valid until the next call. An error says what is wrong with the record.
  // Sets *header when the line was a CSV header (consumed, no values).
  virtual Status Parse(std::string_view line, std::vector<FieldValue>& values, bool* header) = 0;
};

std::unique_ptr<RecordParser> NewJsonParser(const FieldSet& fields);

struct CsvOptions {
  char delimiter = ',';
  // Column names; empty: the first line is the header.
  std::vector<std::string> header;
};
// Fields are looked up by column name (the whole path text). A column named
// by a field but missing from the header is an error when the header is read.
std::unique_ptr<RecordParser> NewCsvParser(const FieldSet& fields, CsvOptions options);

// Splits one CSV line (RFC 4180 quoting; a quoted field cannot span lines).
// Unquoted fields are views of line, quoted ones of scratch. False when a
// quote is unbalanced.
bool SplitCsvLine(std::string_view line, char delimiter, std::vector<std::string_view>& out,
                  std::string& scratch);

}  // namespace kstream::window
