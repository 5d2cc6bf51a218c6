// JSON input of kstream-put: the partition key from a field of each NDJSON
// line (--key-field), and put-records entries (--json). Each line is fully
// validated: a malformed line is rejected, never half-used.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "core/hash_key.h"
#include "core/status.h"

namespace kstream {

// A dotted field path ("user.id"); a segment may be a key with dots escaped
// as "\." ("a\.b.c" is key "a.b" then "c").
class FieldPath {
 public:
  static Result<FieldPath> Parse(std::string_view dotted);
  const std::vector<std::string>& keys() const { return keys_; }
  const std::string& text() const { return text_; }

 private:
  std::vector<std::string> keys_;
  std::string text_;
};

class JsonLineParser {
 public:
  // `line` must be followed by RecordReader::kPadding readable bytes.
  // Returns the field's value as a partition key: a string's contents, or
  // the JSON text of a number or boolean. The view is valid until the next call.
  Result<std::string_view> KeyField(std::string_view line, const FieldPath& path);

  struct Entry {
    std::string_view partition_key;  // valid until the next call
    std::string data;                // decoded from base64
    std::optional<uint128> explicit_hash_key;
  };
  // Parses {"PartitionKey": "...", "Data": "<base64>", "ExplicitHashKey": "..."}.
  Status PutEntry(std::string_view line, Entry& entry);

 private:
  Result<simdjson::dom::element> Parse(std::string_view line);
  simdjson::dom::parser parser_;
  std::string scratch_;
};

}  // namespace kstream
