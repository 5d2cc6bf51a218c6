// Where kstream-put reports the records it did not write: --failed FILE
// (appended to, one JSON line per record, see AppendFailedRecord), or, without
// it, standard error for records lost to a write error (invalid lines skipped
// with --skip-invalid are then only counted in the tool's summary).
#pragma once

#include <memory>
#include <string>

#include "core/env.h"
#include "produce/producer.h"

namespace kstream {

class FailedRecordLog {
 public:
  // path empty: standard error.
  FailedRecordLog(Env* env, std::string path) : env_(env), path_(std::move(path)) {}
  // Opens (creating) the file.
  Status Open();
  // Buffers one record; the first write error is kept for Close().
  void Add(const FailedRecord& f);
  // Writes out and syncs what is buffered.
  Status Close();

 private:
  Status Flush();

  Env* env_;
  std::string path_;
  std::unique_ptr<AppendFile> file_;
  std::string buf_;
  Status error_;
};

}  // namespace kstream
