// Where kstream-deliver puts a record: the prefix template (Firehose's S3
// prefix with !{...} expressions) and the deterministic file names.
//
//   !{timestamp:FMT}  the record's arrival time in UTC; FMT's yyyy, MM, dd,
//                     HH, mm and ss are replaced, other characters kept
//   !{field:PATH}     a field of the record read as JSON (dynamic
//                     partitioning): a string's contents, or a number's or
//                     boolean's JSON text
//
// A template without expressions gets the default time prefix
// `!{timestamp:yyyy/MM/dd/HH}/` appended, as Firehose does. Records whose
// prefix cannot be evaluated (not JSON, field missing, a value that is not a
// safe path component) go under the error prefix instead.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash_key.h"
#include "core/sequence_number.h"
#include "core/status.h"
#include "io/json_input.h"

namespace kstream {

inline constexpr char kDefaultPrefix[] = "!{timestamp:yyyy/MM/dd/HH}/";
// Records that cannot be routed: under errors/, by time.
inline constexpr char kErrorPrefix[] = "errors/partitioning-failed/";
// Records that would open a partition beyond the limit of active ones
// (Firehose's error output type for them).
inline constexpr char kPartitionsExceededPrefix[] = "errors/activePartitionExceeded/";
// Firehose's limit of active partitions per delivery stream (by default).
inline constexpr size_t kDefaultMaxPartitions = 500;
// Evaluated prefixes are at most this long (Firehose's limit).
inline constexpr size_t kMaxPrefixChars = 512;

class PrefixTemplate {
 public:
  // Usage errors (an unknown expression, an absolute path, "..") are
  // InvalidArgument.
  static Result<PrefixTemplate> Parse(std::string_view text);
  // Empty: every file at the top of the target (Parse(kDefaultPrefix) is
  // the tool's default).
  PrefixTemplate() = default;

  // Why a record could not be routed.
  struct RouteError {
    std::string code;     // "InvalidJson", "PartitionKeyMissing", "InvalidPartitionValue"
    std::string message;  // "field 'customer_id' is missing"
  };
  // Evaluates the prefix for a record into out; false with *error filled
  // when it cannot be routed. Not thread-safe (caches, a JSON parser).
  bool Evaluate(int64_t arrival_ms, std::string_view data, std::string& out, RouteError* error);

  bool uses_fields() const { return uses_fields_; }
  // Without fields, records whose arrival times give the same key get the
  // same prefix (-1: the prefix depends on the record's data).
  int64_t TimeKey(int64_t arrival_ms) const {
    if (uses_fields_) return -1;
    return time_unit_ms_ ? arrival_ms / time_unit_ms_ : 0;
  }
  const std::string& text() const { return text_; }

 private:
  struct Segment {
    enum class Kind { kLiteral, kTime, kField } kind = Kind::kLiteral;
    std::string text;  // literal text or time format
    FieldPath field;
  };
  void Compile();

  std::string text_;
  std::vector<Segment> segments_;
  bool uses_fields_ = false;
  int64_t time_unit_ms_ = 0;  // finest time part used (0: none)
  // A prefix without fields depends only on the time, in whole units.
  int64_t cached_unit_ = -1;
  std::string cached_;
  JsonLineParser json_;
  std::string padded_;
};

// Appends the time parts of FMT (yyyy, MM, dd, HH, mm, ss) for epoch_ms, UTC.
void AppendTimeFormat(std::string& out, std::string_view fmt, int64_t epoch_ms);

// A delivered file's name: STREAM-YYYY-MM-DD-HH-MM-SS-SHARDID-FIRST-LAST.EXT,
// from the first record's arrival time and the sequence range. Deterministic:
// the same records always get the same name.
std::string DeliveredFileName(std::string_view stream, int64_t first_arrival_ms, uint64_t shard,
                              const SequenceNumber& first, const SequenceNumber& last,
                              std::string_view extension);

}  // namespace kstream
