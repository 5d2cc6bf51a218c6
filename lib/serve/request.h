// Reading a request's members with the service's checks and messages: a
// member of the wrong type is a SerializationException; one that breaks a
// model constraint (length, range, pattern, required) a ValidationException
// worded as the service words it ("1 validation error detected: Value 'x' at
// 'streamName' failed to satisfy constraint: Member must ...").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/hash_key.h"
#include "serve/api_error.h"
#include "serve/wire.h"

namespace kstream::serve {

// "streamName" for "StreamName": how the service names a member in messages.
std::string MemberPath(std::string_view key);

ApiError ConstraintError(std::string_view shown_value, std::string_view path,
                         std::string_view constraint);

// The member `key` of obj if present and not null, checked to be of `kind`.
ApiOr<const Value*> Member(const Value& obj, std::string_view key, Value::Kind kind);

ApiOr<std::optional<std::string_view>> OptionalString(const Value& obj, std::string_view key,
                                                      size_t min_len, size_t max_len);
ApiOr<std::string_view> RequiredString(const Value& obj, std::string_view key, size_t min_len,
                                       size_t max_len);
ApiOr<std::optional<int64_t>> OptionalInt(const Value& obj, std::string_view key, int64_t min,
                                          int64_t max);
ApiOr<int64_t> RequiredInt(const Value& obj, std::string_view key, int64_t min, int64_t max);
ApiOr<std::optional<bool>> OptionalBool(const Value& obj, std::string_view key);

// A blob member: base64 text (JSON) or a byte string (CBOR), decoded.
// `path` names it in messages ("records.3.member.data").
ApiOr<std::string> RequiredBlob(const Value& obj, std::string_view key, std::string_view path);

// A timestamp member as epoch milliseconds: a number of epoch seconds in
// JSON; in CBOR an integer (tagged 1 or not) is epoch milliseconds, as the
// Java SDKs send it, and a float epoch seconds.
ApiOr<std::optional<int64_t>> OptionalTimestamp(const Value& obj, std::string_view key,
                                                Encoding encoding);

// The stream a request names, by StreamName or StreamARN
// (arn:aws:kinesis:<region>:<account>:stream/<name>); one of them required.
ApiOr<std::string> StreamNameOf(const Value& obj);

// A shard id as the API takes it ("shardId-000000000003"; also a bare
// index). `key` names the member in messages.
ApiOr<uint64_t> ShardIndexOf(std::string_view text, std::string_view key);

// Decimal 128-bit values: hash keys (0|[1-9]\d{0,38}, at most 2^128-1) and
// sequence numbers (0|[1-9]\d{0,128}). The pattern is a ValidationException,
// the range an InvalidArgumentException.
ApiOr<uint128> HashKeyOf(std::string_view text, std::string_view key);
ApiOr<uint128> SequenceNumberOf(std::string_view text, std::string_view key);

}  // namespace kstream::serve
