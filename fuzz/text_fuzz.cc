// The small parsers of flags and fields: durations, sizes, timestamps,
// base64, 128-bit decimals, shard ids, stream names and window time formats.
// Where a value has a canonical text, parsing that text gives the value back.
#include <stdint.h>

#include <string>

#include "core/hash_key.h"
#include "core/text.h"
#include "fuzz_util.h"
#include "window/time_format.h"

using namespace kstream;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ParseDuration(text);
  (void)ParseSize(text);
  (void)ValidateStreamName(text);
  (void)IsValidUtf8(text);

  if (auto ts = ParseTimestamp(text); ts.ok()) {
    auto again = ParseTimestamp(FormatTimestamp(*ts));
    FUZZ_CHECK(again.ok() && *again == *ts);
  }
  if (auto v = ParseDecimal128(text, "value"); v.ok()) {
    auto again = ParseDecimal128(ToDecimal(*v), "value");
    FUZZ_CHECK(again.ok() && *again == *v);
  }
  if (auto shard = ParseShardId(text); shard.ok()) {
    auto again = ParseShardId(ShardIdFor(*shard));
    FUZZ_CHECK(again.ok() && *again == *shard);
  }
  std::string decoded;
  if (DecodeBase64(text, decoded)) {
    std::string b64, again;
    AppendBase64(b64, decoded);
    FUZZ_CHECK(DecodeBase64(b64, again) && again == decoded);
  }
  std::string json;
  AppendJsonString(json, text);
  FUZZ_CHECK(json.size() >= 2 && json.front() == '"' && json.back() == '"');

  // Window time formats: the first line is the --time-format, the rest a value.
  const size_t nl = text.find('\n');
  if (nl != std::string_view::npos) {
    auto format = window::TimeFormat::Parse(text.substr(0, nl));
    if (format.ok()) {
      window::FieldValue value;
      value.kind = window::FieldValue::Kind::kString;
      value.text = text.substr(nl + 1);
      int64_t ms = 0;
      (void)format->ToMillis(value, ms);
    }
  }
  return 0;
}
