#include "io/json_input.h"

#include <algorithm>

#include "core/text.h"
#include "io/record_reader.h"

namespace kstream {

Result<FieldPath> FieldPath::Parse(std::string_view dotted) {
  FieldPath p;
  p.text_ = std::string(dotted);
  std::string cur;
  for (size_t i = 0; i < dotted.size(); ++i) {
    if (dotted[i] == '\\' && i + 1 < dotted.size() && dotted[i + 1] == '.') {
      cur += '.';
      ++i;
    } else if (dotted[i] == '.') {
      if (cur.empty()) break;
      p.keys_.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += dotted[i];
    }
  }
  if (cur.empty() || dotted.empty())
    return Status::InvalidArgument("invalid field path '" + std::string(dotted) +
                                   "' (use names separated by dots, like user.id)");
  p.keys_.push_back(std::move(cur));
  return p;
}

Result<simdjson::dom::element> JsonLineParser::Parse(std::string_view line) {
  simdjson::dom::element root;
  auto err = parser_.parse(line.data(), line.size(), /*realloc_if_needed=*/false).get(root);
  if (err)
    return Status::InvalidArgument(std::string("invalid JSON: ") + simdjson::error_message(err));
  return root;
}

Result<std::string_view> JsonLineParser::KeyField(std::string_view line, const FieldPath& path) {
  KS_ASSIGN_OR_RETURN(simdjson::dom::element v, Parse(line));
  for (const auto& key : path.keys()) {
    simdjson::dom::object obj;
    if (v.get(obj) || obj[key].get(v))
      return Status::InvalidArgument("field '" + path.text() + "' is missing");
  }
  switch (v.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      if (v.get(s)) return Status::InvalidArgument("field '" + path.text() + "' is unreadable");
      return s;
    }
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
    case simdjson::dom::element_type::BOOL:
      scratch_ = simdjson::minify(v);
      return std::string_view(scratch_);
    default:
      return Status::InvalidArgument("field '" + path.text() +
                                     "' is not a string, number or boolean");
  }
}

Status JsonLineParser::PutEntry(std::string_view line, Entry& entry) {
  KS_ASSIGN_OR_RETURN(simdjson::dom::element root, Parse(line));
  simdjson::dom::object obj;
  if (root.get(obj)) return Status::InvalidArgument("entry is not a JSON object");
  std::string_view key, data, ehk;
  if (obj["PartitionKey"].get(key))
    return Status::InvalidArgument("entry has no string PartitionKey");
  if (obj["Data"].get(data)) return Status::InvalidArgument("entry has no string Data");
  if (!DecodeBase64(data, entry.data)) return Status::InvalidArgument("Data is not valid base64");
  entry.partition_key = key;
  entry.explicit_hash_key.reset();
  auto e = obj["ExplicitHashKey"];
  if (e.error() != simdjson::NO_SUCH_FIELD) {
    if (e.get(ehk)) return Status::InvalidArgument("ExplicitHashKey must be a string");
    KS_ASSIGN_OR_RETURN(uint128 h, ParseDecimal128(ehk, "ExplicitHashKey"));
    entry.explicit_hash_key = h;
  }
  for (auto field : obj) {
    // kstream-get --json envelopes carry where a record was, kstream-put
    // --failed lines the input line and the error; putting them again ignores
    // that, so `kstream-get a --json | kstream-put b --json` copies and failed
    // records can be retried.
    static constexpr std::string_view kKnown[] = {"PartitionKey",
                                                  "Data",
                                                  "ExplicitHashKey",
                                                  "ShardId",
                                                  "SequenceNumber",
                                                  "SubSequenceNumber",
                                                  "ApproximateArrivalTimestamp",
                                                  "EncryptionType",
                                                  "Line",
                                                  "Error"};
    if (std::find(std::begin(kKnown), std::end(kKnown), field.key) == std::end(kKnown))
      return Status::InvalidArgument("unknown field '" + std::string(field.key) +
                                     "' (expected PartitionKey, Data, ExplicitHashKey)");
  }
  return Status::Ok();
}

}  // namespace kstream
