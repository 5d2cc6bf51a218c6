// Where --exec batches that still fail after their retries go (--on-failure):
// a file, or another stream, as one JSON report per record.
#pragma once

#include <memory>
#include <string>

#include "core/env.h"
#include "store/backend.h"

namespace kstream {

// What the report says besides the record.
struct FailureInfo {
  std::string stream, group;
  std::string error;  // "exit status 1"
  int attempts = 0;
  int64_t failed_ms = 0;
};

class FailureSink {
 public:
  virtual ~FailureSink() = default;
  // Stores records [begin, end) of shard's batch durably, one report each:
  // the record's envelope (AppendRecordEnvelope) with "Stream", "Group",
  // "ErrorMessage", "Attempts" and "FailedAt" added.
  virtual Status Put(uint64_t shard, const RecordBatch& batch, size_t begin, size_t end,
                     const FailureInfo& info) = 0;
  // "failure file 'x'" / "stream 'x'", for messages.
  virtual std::string name() const = 0;
};

// `spec` is a file path (appended to, created if missing) or "stream:NAME"
// (the report is the data, the record's partition key the key). The stream
// must exist.
Result<std::unique_ptr<FailureSink>> OpenFailureSink(const std::string& spec, Backend& backend,
                                                     Env* env);

// One report line (without newline).
std::string FailureReport(uint64_t shard, const RecordBatch::Record& r, const FailureInfo& info);

}  // namespace kstream
