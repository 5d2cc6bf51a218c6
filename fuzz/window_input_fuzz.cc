// kstream-window's record parsing: CSV splitting and the NDJSON and CSV
// record parsers on arbitrary lines, and --where expressions. Byte 0 picks
// the mode; the rest is the input.
#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "io/json_input.h"
#include "io/record_reader.h"
#include "window/expr.h"
#include "window/input.h"

using namespace kstream;
using namespace kstream::window;

namespace {

FieldSet MakeFields() {
  FieldSet fields;
  for (const char* p : {"a", "b.c", "t", "temperature"}) {
    auto path = FieldPath::Parse(p);
    fields.Add(*path);
  }
  return fields;
}

void ParseLines(RecordParser& parser, std::string_view text, size_t slots) {
  std::vector<FieldValue> values(slots);
  std::string padded;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    padded.assign(text.substr(start, end - start));
    padded.append(RecordReader::kPadding, '\0');
    bool header = false;
    (void)parser.Parse(std::string_view(padded.data(), end - start), values, &header);
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {  // CSV splitting: unquoted fields join back to the line
      std::vector<std::string_view> fields;
      std::string scratch;
      const char delimiter = (data[0] & 4) ? ';' : ',';
      if (SplitCsvLine(text, delimiter, fields, scratch) &&
          text.find('"') == std::string_view::npos) {
        std::string joined;
        for (size_t i = 0; i < fields.size(); ++i) {
          if (i) joined += delimiter;
          joined += fields[i];
        }
        FUZZ_CHECK(joined == text);
      }
      break;
    }
    case 1: {
      FieldSet fields = MakeFields();
      auto parser = NewJsonParser(fields);
      ParseLines(*parser, text, fields.size());
      break;
    }
    case 2: {
      FieldSet fields = MakeFields();
      auto parser = NewCsvParser(fields, CsvOptions{});
      ParseLines(*parser, text, fields.size());
      break;
    }
    case 3: {  // --where: parse, then evaluate on a few records
      FieldSet fields = MakeFields();
      auto expr = ParseWhere(text, fields);
      if (!expr.ok()) break;
      std::vector<FieldValue> values(fields.size());
      (void)(*expr)->Eval(values);  // everything missing
      for (FieldValue& v : values) {
        v.kind = FieldValue::Kind::kString;
        v.text = "12.5";
      }
      (void)(*expr)->Eval(values);
      for (FieldValue& v : values) {
        v.kind = FieldValue::Kind::kNumber;
        v.text = "-3";
        v.has_number = true;
        v.number = -3;
      }
      (void)(*expr)->Eval(values);
      break;
    }
  }
  return 0;
}
