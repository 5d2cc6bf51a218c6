#include "window/sink.h"

#include <fcntl.h>
#include <unistd.h>

namespace kstream::window {
namespace {

constexpr size_t kFlushBytes = 256 * 1024;

}  // namespace

Sink::~Sink() {
  if (late_fd_ >= 0) ::close(late_fd_);
}

Status Sink::Open() {
  if (o_.late_file.empty()) return Status::Ok();
  late_fd_ = ::open(o_.late_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (late_fd_ < 0) return Status::FromErrno("open " + o_.late_file, errno);
  late_ = std::make_unique<RecordWriter>(late_fd_, OutputFormat::kLines);
  return Status::Ok();
}

Status Sink::Invalid(uint64_t number, const Status& s) {
  ++stats_.records;
  const std::string where = std::string(unit_) + " " + std::to_string(number);
  if (s.code() != StatusCode::kInvalidArgument) return s;
  if (o_.strict) return s.Prefixed(where);
  if (stats_.invalid++ == 0) stats_.first_invalid = where + ": " + s.message();
  return Status::Ok();
}

Status Sink::Handle(std::string_view data, int64_t now, uint64_t number, int64_t late_before,
                    Processor::Outcome& outcome, int64_t& time) {
  if (Status s = p_.Add(data, now, late_before, outcome, time); !s.ok()) {
    outcome = Processor::Outcome::kSkipped;
    return Invalid(number, s);
  }
  switch (outcome) {
    case Processor::Outcome::kSkipped:
      return Status::Ok();
    case Processor::Outcome::kAdded:
      ++stats_.aggregated;
      break;
    case Processor::Outcome::kFiltered:
      ++stats_.filtered;
      break;
    case Processor::Outcome::kLate:
      ++stats_.late;
      if (late_) {
        late_->Append(data);
        late_->Append("\n");
        if (late_->buffered() >= kFlushBytes) KS_RETURN_IF_ERROR(late_->Flush());
      }
      break;
  }
  ++stats_.records;
  return Drain(false);
}

Status Sink::Drain(bool flush) {
  std::string& lines = p_.engine().output();
  if (!lines.empty()) {
    out_.Append(lines);
    lines.clear();
  }
  if (out_.buffered() >= kFlushBytes || (flush && out_.buffered() > 0))
    KS_RETURN_IF_ERROR(out_.Flush());
  if (flush && late_) KS_RETURN_IF_ERROR(late_->Flush());
  return Status::Ok();
}

void Sink::CountWindows() {
  stats_.windows = p_.engine().windows_emitted();
  stats_.lines = p_.engine().lines_emitted();
}

Status Sink::Finish() {
  p_.engine().Finish();
  CountWindows();
  return Drain(true);
}

}  // namespace kstream::window
