// JSON output for the agent's converters, in the two styles the Kinesis
// Agent offers (jsonFormat): COMPACT and PRETTYPRINT (Jackson's default
// pretty printer: two-space indent, "key" : value, arrays on one line).
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

namespace kstream::agent {

enum class JsonFormat { kCompact, kPretty };

// Writes one JSON object field by field into out (appending).
class JsonObjectWriter {
 public:
  JsonObjectWriter(std::string& out, JsonFormat format)
      : out_(out), pretty_(format == JsonFormat::kPretty) {
    out_ += '{';
  }
  // A string field, or null.
  void Field(std::string_view name, std::optional<std::string_view> value);
  // A field whose value is JSON text already rendered in this object's style
  // (nested one level deep; see AppendJsonValue).
  void RawField(std::string_view name, std::string_view json);
  void End();

 private:
  void Key(std::string_view name);
  std::string& out_;
  bool pretty_;
  bool first_ = true;
};

// Renders a parsed JSON value; `depth` is the nesting level it sits at (for
// pretty indentation; 1 for a field of a top-level object).
void AppendJsonValue(simdjson::dom::element value, JsonFormat format, int depth, std::string& out);

}  // namespace kstream::agent
