// RecordWriter: formats records for stdout (lines, NUL-terminated, or the
// Kinesis-shaped JSON envelope) into a large buffer, written with few calls.
#pragma once

#include <string>

#include "store/backend.h"

namespace kstream {

enum class OutputFormat { kLines, kNull, kJson };

// Appends r as one Kinesis-style JSON object (no newline): {"ShardId",
// "SequenceNumber"[,"SubSequenceNumber"],"PartitionKey",
// "ApproximateArrivalTimestamp"[,"ExplicitHashKey"],"Data"(base64)}; the
// sub-sequence number only for a user record of a KPL aggregate.
void AppendRecordEnvelope(std::string& out, uint64_t shard_index, const RecordBatch::Record& r);

class RecordWriter {
 public:
  RecordWriter(int fd, OutputFormat format) : fd_(fd), format_(format) {
    buf_.reserve(kFlushAt * 2);
  }

  // False once the reader of the pipe went away (EPIPE): stop quietly.
  bool Write(uint64_t shard_index, const RecordBatch::Record& r) {
    switch (format_) {
      case OutputFormat::kLines:
        buf_.append(r.data);
        buf_ += '\n';
        break;
      case OutputFormat::kNull:
        buf_.append(r.data);
        buf_ += '\0';
        break;
      case OutputFormat::kJson:
        AppendRecordEnvelope(buf_, shard_index, r);
        buf_ += '\n';
        break;
    }
    if (buf_.size() >= kFlushAt) return Flush().ok() && !closed_;
    return !closed_;
  }
  // Writes out what is buffered. An EPIPE sets closed() and returns ok; any
  // other write error is returned by this and every later Flush(), so one
  // met inside Write() is not lost.
  Status Flush();
  bool closed() const { return closed_; }
  // Raw text (e.g. put results), buffered with the rest.
  void Append(std::string_view text) { buf_.append(text); }
  size_t buffered() const { return buf_.size(); }

 private:
  static constexpr size_t kFlushAt = 256 * 1024;
  int fd_;
  OutputFormat format_;
  std::string buf_;
  bool closed_ = false;
  Status error_;  // the first write error
};

}  // namespace kstream
