#include "serve/request.h"

#include <cmath>

#include "core/text.h"

namespace kstream::serve {

std::string MemberPath(std::string_view key) {
  std::string path(key);
  if (!path.empty() && path[0] >= 'A' && path[0] <= 'Z') path[0] = char(path[0] - 'A' + 'a');
  return path;
}

ApiError ConstraintError(std::string_view shown_value, std::string_view path,
                         std::string_view constraint) {
  return ApiError::Validation(
      "1 validation error detected: Value " + std::string(shown_value) + " at '" +
      std::string(path) + "' failed to satisfy constraint: Member must " + std::string(constraint));
}

namespace {

// Characters, as the service counts string lengths (UTF-8 code points).
size_t CharCount(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Quoted(std::string_view s) {
  // Long values are cut in messages, as the service does.
  std::string shown(s.substr(0, 256));
  return "'" + shown + "'";
}

ApiError NullError(std::string_view key) {
  return ConstraintError("null", MemberPath(key), "not be null");
}

ApiStatus CheckLength(std::string_view s, std::string_view key, size_t min_len, size_t max_len) {
  const size_t n = CharCount(s);
  if (n < min_len)
    return ConstraintError(Quoted(s), MemberPath(key),
                           "have length greater than or equal to " + std::to_string(min_len));
  if (n > max_len)
    return ConstraintError(Quoted(s), MemberPath(key),
                           "have length less than or equal to " + std::to_string(max_len));
  return {};
}

}  // namespace

ApiOr<const Value*> Member(const Value& obj, std::string_view key, Value::Kind kind) {
  const Value* v = obj.Find(key);
  if (!v || v->kind == Value::Kind::kNull) return static_cast<const Value*>(nullptr);
  const bool matches = v->kind == kind || (kind == Value::Kind::kDouble && v->is_number()) ||
                       (kind == Value::Kind::kBytes && v->kind == Value::Kind::kString);
  if (!matches)
    return ApiError::Serialization("Unexpected value type for '" + std::string(key) +
                                   "': expected " + Value::KindName(kind) + ", got " +
                                   Value::KindName(v->kind));
  return v;
}

ApiOr<std::optional<std::string_view>> OptionalString(const Value& obj, std::string_view key,
                                                      size_t min_len, size_t max_len) {
  API_ASSIGN_OR_RETURN(const Value* v, Member(obj, key, Value::Kind::kString));
  if (!v) return std::optional<std::string_view>();
  API_RETURN_IF_ERROR(CheckLength(v->text, key, min_len, max_len));
  return std::optional<std::string_view>(v->text);
}

ApiOr<std::string_view> RequiredString(const Value& obj, std::string_view key, size_t min_len,
                                       size_t max_len) {
  API_ASSIGN_OR_RETURN(auto s, OptionalString(obj, key, min_len, max_len));
  if (!s) return NullError(key);
  return *s;
}

ApiOr<std::optional<int64_t>> OptionalInt(const Value& obj, std::string_view key, int64_t min,
                                          int64_t max) {
  API_ASSIGN_OR_RETURN(const Value* v, Member(obj, key, Value::Kind::kDouble));
  if (!v) return std::optional<int64_t>();
  if (v->kind != Value::Kind::kInt)
    return ApiError::Serialization("Unexpected value for '" + std::string(key) +
                                   "': expected an integer");
  if (v->integer < min)
    return ConstraintError(std::to_string(v->integer), MemberPath(key),
                           "have value greater than or equal to " + std::to_string(min));
  if (v->integer > max)
    return ConstraintError(std::to_string(v->integer), MemberPath(key),
                           "have value less than or equal to " + std::to_string(max));
  return std::optional<int64_t>(v->integer);
}

ApiOr<int64_t> RequiredInt(const Value& obj, std::string_view key, int64_t min, int64_t max) {
  API_ASSIGN_OR_RETURN(auto i, OptionalInt(obj, key, min, max));
  if (!i) return NullError(key);
  return *i;
}

ApiOr<std::optional<bool>> OptionalBool(const Value& obj, std::string_view key) {
  API_ASSIGN_OR_RETURN(const Value* v, Member(obj, key, Value::Kind::kBool));
  if (!v) return std::optional<bool>();
  return std::optional<bool>(v->boolean);
}

ApiOr<std::string> RequiredBlob(const Value& obj, std::string_view key, std::string_view path) {
  API_ASSIGN_OR_RETURN(const Value* v, Member(obj, key, Value::Kind::kBytes));
  if (!v) return ConstraintError("null", path, "not be null");
  if (v->kind == Value::Kind::kBytes) return v->text;
  std::string bytes;
  if (!DecodeBase64(v->text, bytes))
    return ApiError::Serialization("Base64 encoded value for '" + std::string(path) +
                                   "' is invalid");
  return bytes;
}

ApiOr<std::optional<int64_t>> OptionalTimestamp(const Value& obj, std::string_view key,
                                                Encoding encoding) {
  API_ASSIGN_OR_RETURN(const Value* v, Member(obj, key, Value::Kind::kDouble));
  if (!v) return std::optional<int64_t>();
  if (encoding == Encoding::kCbor && v->kind == Value::Kind::kInt)
    return std::optional<int64_t>(v->integer);
  const double ms = std::round(v->number * 1000);
  if (!(std::fabs(ms) < 9.0e15))
    return ApiError::Serialization("Timestamp '" + std::string(key) + "' is out of range");
  return std::optional<int64_t>(int64_t(ms));
}

ApiOr<std::string> StreamNameOf(const Value& obj) {
  API_ASSIGN_OR_RETURN(auto name, OptionalString(obj, "StreamName", 1, 128));
  API_ASSIGN_OR_RETURN(auto arn, OptionalString(obj, "StreamARN", 1, 2048));
  std::string from_arn;
  if (arn) {
    const size_t slash = arn->find(":stream/");
    if (arn->substr(0, 4) != "arn:" || slash == std::string_view::npos)
      return ConstraintError(Quoted(*arn), "streamARN",
                             "satisfy regular expression pattern: "
                             "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
    from_arn = std::string(arn->substr(slash + 8));
    if (name && *name != from_arn)
      return ApiError::InvalidArgument("StreamName '" + std::string(*name) + "' and StreamARN '" +
                                       std::string(*arn) + "' name different streams");
  }
  if (!name && !arn)
    return ApiError::InvalidArgument("Either StreamName or StreamARN should be provided.");
  std::string result = name ? std::string(*name) : from_arn;
  if (!ValidateStreamName(result).ok())
    return ConstraintError(Quoted(result), "streamName",
                           "satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
  return result;
}

ApiOr<uint64_t> ShardIndexOf(std::string_view text, std::string_view key) {
  auto index = ParseShardId(text);
  if (!index.ok())
    return ApiError::NotFound("Could not find shard " + std::string(text) + " (" + MemberPath(key) +
                              ").");
  return *index;
}

namespace {
ApiOr<uint128> Decimal128(std::string_view text, std::string_view key, size_t max_digits,
                          std::string_view pattern) {
  bool digits = !text.empty() && text.size() <= max_digits && (text == "0" || text[0] != '0');
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  if (!digits)
    return ConstraintError(Quoted(text), MemberPath(key),
                           "satisfy regular expression pattern: " + std::string(pattern));
  auto v = ParseDecimal128(text, key);
  if (!v.ok())
    return ApiError::InvalidArgument("Invalid " + std::string(key) + " '" + std::string(text) +
                                     "': it must be at most 2^128-1.");
  return *v;
}
}  // namespace

ApiOr<uint128> HashKeyOf(std::string_view text, std::string_view key) {
  return Decimal128(text, key, 39, "0|([1-9]\\d{0,38})");
}

ApiOr<uint128> SequenceNumberOf(std::string_view text, std::string_view key) {
  return Decimal128(text, key, 129, "0|([1-9]\\d{0,128})");
}

}  // namespace kstream::serve
