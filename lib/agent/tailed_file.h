// Tailer::File: the state of one file a Tailer reads (internal to
// tailer.cc and tailer_records.cc).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <string>

#include "agent/checkpoint.h"
#include "agent/tailer.h"

namespace kstream::agent {

// The first min(size, kFingerprintBytes) bytes of fd (fewer if it shrank
// meanwhile).
std::string ReadHead(int fd, uint64_t size);

// One file being read. States: live (read), suspect (a possible copy of
// another file, held back), retired (closed; kept until its records are
// durable so its checkpoint is not lost).
struct Tailer::File {
  enum class State { kLive, kSuspect, kRetired };
  uint64_t id = 0;
  std::string path;
  int fd = -1;
  uint64_t dev = 0, ino = 0;
  std::string head;  // the first bytes, up to kFingerprintBytes
  Fingerprint fp;    // of head
  State state = State::kLive;
  bool in_glob = true;
  bool unlinked = false;
  bool truncated = false;  // seen smaller than read_offset in this pass
  bool finished = false;   // a footer was read: nothing more from this file
  bool backlog = false;    // bytes read but not cut yet: the sink was full
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t last_growth_ms = 0;
  int64_t last_data_ms = 0;
  int64_t suspect_since_ms = 0;

  uint64_t read_offset = 0;     // next byte to read
  uint64_t emitted_offset = 0;  // just past the last record handed on
  uint64_t acked_offset = 0;    // durable
  int64_t header_left = 0;

  // Bytes read but not yet cut into records: buf[0] is at file offset buf_offset.
  std::string buf;
  size_t buf_pos = 0;  // start of the first line not cut yet
  uint64_t buf_offset = 0;
  bool overflow = false;  // the current line passed max_record_bytes
  std::string long_line;  // its first max_record_bytes bytes
  // Multi-line: the record being gathered (its lines so far).
  bool has_record = false;
  bool record_truncated = false;
  std::string record;
  uint64_t record_end = 0;

  ~File() {
    if (fd >= 0) ::close(fd);
  }
  void TakeFingerprint() {
    head = ReadHead(fd, size);
    fp = {uint32_t(head.size()), HashBytes(head)};
  }
  // Could this file be a copy of `other` (or become one as it is written)?
  bool CouldCopy(const File& other) const {
    const size_t n = std::min(head.size(), other.head.size());
    return head.compare(0, n, other.head, 0, n) == 0;
  }
  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

}  // namespace kstream::agent
