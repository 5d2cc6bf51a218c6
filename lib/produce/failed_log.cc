#include "produce/failed_log.h"

#include <unistd.h>

namespace kstream {

Status FailedRecordLog::Open() {
  if (path_.empty()) return Status::Ok();
  KS_ASSIGN_OR_RETURN(file_, env_->OpenAppend(path_, /*create=*/true));
  return Status::Ok();
}

void FailedRecordLog::Add(const FailedRecord& f) {
  if (!file_ && !f.partition_key) return;  // a skipped line: in the summary
  AppendFailedRecord(buf_, f);
  if (buf_.size() >= (1 << 20) && error_.ok()) error_ = Flush();
}

Status FailedRecordLog::Flush() {
  if (buf_.empty()) return Status::Ok();
  Status s;
  if (file_) {
    s = file_->Append(buf_);
  } else {
    (void)!::write(STDERR_FILENO, buf_.data(), buf_.size());
  }
  buf_.clear();
  return s;
}

Status FailedRecordLog::Close() {
  if (error_.ok()) error_ = Flush();
  if (error_.ok() && file_) error_ = file_->Sync();
  return error_;
}

}  // namespace kstream
