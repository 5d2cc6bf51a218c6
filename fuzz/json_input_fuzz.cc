// kstream-put's JSON input: --key-field paths and the put-records envelope
// on arbitrary bytes. The first line is the dotted path, the rest the record.
#include <stdint.h>

#include <string>

#include "core/text.h"
#include "fuzz_util.h"
#include "io/json_input.h"
#include "io/record_reader.h"

using namespace kstream;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t nl = all.find('\n');
  const std::string_view path_text = nl == std::string_view::npos ? "key" : all.substr(0, nl);
  const std::string_view line = nl == std::string_view::npos ? all : all.substr(nl + 1);

  std::string padded(line);
  padded.append(RecordReader::kPadding, '\0');
  const std::string_view record(padded.data(), line.size());

  static JsonLineParser parser;
  auto path = FieldPath::Parse(path_text);
  if (path.ok()) (void)parser.KeyField(record, *path);  // a value or an error, never a crash
  JsonLineParser::Entry entry;
  if (parser.PutEntry(record, entry).ok()) {
    // What was decoded encodes back to base64 that decodes to the same bytes.
    std::string b64, again;
    AppendBase64(b64, entry.data);
    FUZZ_CHECK(DecodeBase64(b64, again) && again == entry.data);
  }
  return 0;
}
