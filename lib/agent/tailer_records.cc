// Tailer: cutting what is read into records (lines, multi-line records,
// truncation of runaway records, header and footer lines), and finishing a
// file that is done.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "agent/tailed_file.h"
#include "agent/tailer.h"

namespace kstream::agent {

namespace {
constexpr size_t kReadChunk = 256 << 10;
}  // namespace

Status Tailer::ReadFile(File& f, RecordSink& sink, size_t budget, size_t& read) {
  if (f.backlog) {  // lines read earlier, left while the sink was full
    const size_t before = f.buf_pos;
    f.backlog = false;
    KS_RETURN_IF_ERROR(Split(f, sink));
    read += f.buf_pos - before;
    if (f.backlog) return Status::Ok();
  }
  while (read < budget && !f.finished && !sink.Full()) {
    // Keep only the uncut tail, then append a chunk after it.
    if (f.buf_pos > 0) {
      f.buf.erase(0, f.buf_pos);
      f.buf_offset += f.buf_pos;
      f.buf_pos = 0;
    }
    const size_t old = f.buf.size();
    const size_t want = std::min(kReadChunk, budget - read);
    f.buf.resize(old + want);
    ssize_t n = ::pread(f.fd, f.buf.data() + old, want, off_t(f.read_offset));
    if (n < 0 && errno == EINTR) n = 0;
    if (n < 0) {
      f.buf.resize(old);
      return Status::FromErrno("read " + f.path, errno);
    }
    f.buf.resize(old + size_t(n));
    if (n == 0) break;
    f.read_offset += uint64_t(n);
    read += size_t(n);
    f.last_data_ms = env_->NowMillis();
    KS_RETURN_IF_ERROR(Split(f, sink));
  }
  return Status::Ok();
}

Status Tailer::Split(File& f, RecordSink& sink) {
  const char* base = f.buf.data();
  const size_t len = f.buf.size();
  while (f.buf_pos < len && !f.finished) {
    if (sink.Full()) {
      f.backlog = true;
      break;
    }
    const char* start = base + f.buf_pos;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', len - f.buf_pos));
    if (nl == nullptr) {
      // An unterminated line: keep it, unless it is already too long (keep
      // its first bytes aside and drop the rest as it comes).
      const size_t pending = len - f.buf_pos;
      if (f.overflow) {
        f.buf_pos = len;
      } else if (pending > options_.max_record_bytes) {
        f.overflow = true;
        f.long_line.assign(start, options_.max_record_bytes);
        f.buf_pos = len;
      }
      break;
    }
    const uint64_t end = f.buf_offset + uint64_t(nl - base) + 1;
    std::string_view line(start, size_t(nl - start));
    bool truncated = false;
    if (f.overflow) {
      line = f.long_line;
      truncated = true;
    } else if (line.size() > options_.max_record_bytes) {
      line = line.substr(0, options_.max_record_bytes);
      truncated = true;
    }
    f.buf_pos = size_t(nl - base) + 1;
    KS_RETURN_IF_ERROR(EmitLine(f, line, end, truncated, sink));
    if (f.overflow) {
      f.overflow = false;
      f.long_line.clear();
    }
  }
  return Status::Ok();
}

Status Tailer::EmitLine(File& f, std::string_view line, uint64_t end, bool truncated,
                        RecordSink& sink) {
  ++lines_;
  if (f.header_left > 0) {
    --f.header_left;
    if (!f.has_record) {
      f.emitted_offset = end;
      return sink.Skip(f.id, end);
    }
    return Status::Ok();
  }
  if (footer_ && footer_->FullMatch(line, groups_)) {
    KS_RETURN_IF_ERROR(FlushRecord(f, sink));
    f.finished = true;  // the Kinesis Agent stops parsing the file here
    f.emitted_offset = end;
    return sink.Skip(f.id, end);
  }
  if (!multiline_) {
    f.emitted_offset = end;
    return sink.Record(f.id, line, end, truncated);
  }
  if (f.has_record && multiline_->LooksAt(line)) KS_RETURN_IF_ERROR(FlushRecord(f, sink));
  if (!f.has_record) {
    f.has_record = true;
    f.record.assign(line);
    f.record_truncated = truncated;
  } else if (f.record.size() + 1 + line.size() <= options_.max_record_bytes) {
    f.record += '\n';
    f.record += line;
    f.record_truncated |= truncated;
  } else {  // keep the first bytes of a runaway record
    f.record += '\n';
    f.record.append(line.substr(
        0, options_.max_record_bytes - std::min(options_.max_record_bytes, f.record.size())));
    f.record.resize(std::min(f.record.size(), options_.max_record_bytes));
    f.record_truncated = true;
  }
  f.record_end = end;
  return Status::Ok();
}

Status Tailer::FlushRecord(File& f, RecordSink& sink) {
  if (!f.has_record) return Status::Ok();
  f.has_record = false;
  f.emitted_offset = f.record_end;
  return sink.Record(f.id, f.record, f.record_end, f.record_truncated);
}

// The file is done: its unterminated last line and held record are sent.
Status Tailer::Retire(File& f, RecordSink& sink) {
  if (!f.finished) {
    const size_t pending = f.buf.size() - f.buf_pos;
    if (f.overflow || pending > 0) {
      std::string_view line(f.buf.data() + f.buf_pos, pending);
      if (f.overflow) line = f.long_line;
      const uint64_t end = f.buf_offset + f.buf.size();
      f.buf_pos = f.buf.size();
      KS_RETURN_IF_ERROR(EmitLine(f, line, end, f.overflow, sink));
      f.overflow = false;
    }
  }
  KS_RETURN_IF_ERROR(FlushRecord(f, sink));
  f.state = File::State::kRetired;
  f.Close();
  f.buf.clear();
  f.buf.shrink_to_fit();
  return Status::Ok();
}

}  // namespace kstream::agent
