// kstream-agent's parsers of untrusted bytes: agent.json, every LOGTOJSON
// format, CSVTOJSON and the checkpoint file. Byte 0 picks the parser. A
// converted line must be one valid JSON object; checkpoints round-trip.
#include <stdint.h>

#include <simdjson.h>

#include <string>
#include <vector>

#include "agent/checkpoint.h"
#include "agent/config.h"
#include "agent/convert.h"
#include "fuzz_util.h"

using namespace kstream;
using namespace kstream::agent;

namespace {

void ConvertLines(const ProcessingOption& option, std::string_view text) {
  static simdjson::dom::parser json;
  auto chain = ConverterChain::Make({option}, Env::Default());
  FUZZ_CHECK(chain.ok());
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    bool unmatched = false;
    auto out = chain->Run(text.substr(start, end - start), &unmatched);
    if (out && !unmatched) {
      const std::string copy(*out);
      simdjson::dom::element doc;
      FUZZ_CHECK(json.parse(copy).get(doc) == simdjson::SUCCESS);
      FUZZ_CHECK(doc.is_object());
    }
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr LogFormat kFormats[] = {LogFormat::kCommonApache,  LogFormat::kCombinedApache,
                                    LogFormat::kApacheError,   LogFormat::kSyslog,
                                    LogFormat::kRfc3339Syslog, LogFormat::kRfc5424Syslog};
  const unsigned mode = data[0] % 9;
  if (mode == 0) {
    std::vector<std::string> notices;
    (void)ParseAgentConfig(text, notices);
  } else if (mode <= 6) {
    ProcessingOption option;
    option.kind = OptionKind::kLogToJson;
    option.log_format = kFormats[mode - 1];
    ConvertLines(option, text);
  } else if (mode == 7) {
    ProcessingOption option;
    option.kind = OptionKind::kCsvToJson;
    option.field_names = {"a", "b", "c"};
    option.delimiter = (data[0] & 0x80) ? "\\t" : ",";
    ConvertLines(option, text);
  } else {
    auto set = DecodeCheckpoints(text);
    if (set.ok()) {
      const std::string again = EncodeCheckpoints(*set);
      auto decoded = DecodeCheckpoints(again);
      FUZZ_CHECK(decoded.ok());
      FUZZ_CHECK(EncodeCheckpoints(*decoded) == again);
    }
  }
  return 0;
}
