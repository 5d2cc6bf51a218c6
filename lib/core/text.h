// Parsing and formatting of the values users type and read: stream names,
// shard ids, durations, sizes and timestamps; base64 and JSON string escaping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace kstream {

// 1-128 characters of [A-Za-z0-9_.-], and not "." or ".." (it becomes a directory).
Status ValidateStreamName(std::string_view name);

// "shardId-000000000007" for index 7.
std::string ShardIdFor(uint64_t index);
// Accepts "shardId-000000000007" (any digit count) or a bare index ("7").
Result<uint64_t> ParseShardId(std::string_view text);

// "500ms", "5s", "2m", "1h", "1d"; a bare number is seconds. Returns milliseconds.
Result<int64_t> ParseDuration(std::string_view text);
// "512", "64KiB", "5MiB", "1GiB" (also KB/MB/GB as powers of 1000, K/M/G as KiB...).
Result<uint64_t> ParseSize(std::string_view text);
// ISO-8601 ("2024-01-02T03:04:05.678Z", offsets "+02:00", a space instead of
// T, no zone = UTC), epoch seconds ("1700000000", "1700000000.25") or epoch
// milliseconds with a suffix ("1700000000250ms"). Returns epoch milliseconds.
Result<int64_t> ParseTimestamp(std::string_view text);
// "2024-01-02T03:04:05.678Z"
std::string FormatTimestamp(int64_t epoch_ms);
// Days since 1970-01-01 of a proleptic Gregorian date (month and day 1-based).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
// Epoch seconds with a millisecond fraction and no exponent: "1700000000.123".
void AppendEpochSeconds(std::string& out, int64_t epoch_ms);

// Standard base64 with padding.
void AppendBase64(std::string& out, std::string_view bytes);
// Strict decode (padding required, no whitespace); false on malformed input.
bool DecodeBase64(std::string_view text, std::string& out);

// Appends s as a JSON string literal (quotes included). Invalid UTF-8 bytes are
// replaced by U+FFFD so the output is always valid JSON.
void AppendJsonString(std::string& out, std::string_view s);

// True when s is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

}  // namespace kstream
