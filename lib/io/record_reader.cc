#include "io/record_reader.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kstream {

RecordReader::RecordReader(int fd, char delimiter, size_t max_record_bytes)
    : fd_(fd),
      delim_(delimiter),
      max_record_(max_record_bytes),
      // Room for several maximal records so big reads stay big.
      cap_(std::max<size_t>(4 * max_record_bytes, 4 << 20)) {
  buf_.reset(new char[cap_ + kPadding]);
  std::memset(buf_.get() + cap_, 0, kPadding);
}

bool RecordReader::Next(Item& item) {
  for (;;) {
    const char* start = buf_.get() + begin_;
    const size_t avail = end_ - begin_;
    const char* nl = avail ? static_cast<const char*>(std::memchr(start, delim_, avail)) : nullptr;
    if (discarding_) {
      if (!nl) {
        begin_ = end_;  // still inside the long record
        return false;
      }
      begin_ += size_t(nl - start) + 1;
      discarding_ = false;
      continue;
    }
    if (nl) {
      const size_t len = size_t(nl - start);
      begin_ += len + 1;
      item.number = ++number_;
      if (len > max_record_) {
        item.data = {};
        item.too_long = true;
      } else {
        item.data = std::string_view(start, len);
        item.too_long = false;
      }
      return true;
    }
    if (avail > max_record_) {
      // No delimiter within the limit: report now, drop the rest of it later.
      item.number = ++number_;
      item.data = {};
      item.too_long = true;
      begin_ = end_;
      discarding_ = true;
      return true;
    }
    if (eof_ && avail > 0) {
      // A last record without its delimiter is still a record.
      item.number = ++number_;
      item.data = std::string_view(start, avail);
      item.too_long = false;
      begin_ = end_;
      return true;
    }
    return false;
  }
}

Result<bool> RecordReader::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == cap_) {  // only possible while discarding; Next() emptied it
    end_ = 0;
  }
  for (;;) {
    if (interrupt_fd_ >= 0 && (WaitReadableOr(-1, -1) & kStopRequested)) {
      eof_ = true;  // stopped: what was read still counts
      return end_ > begin_;
    }
    ssize_t n = ::read(fd_, buf_.get() + end_, cap_ - end_);
    if (n < 0) {
      if (errno != EINTR) return Status::FromErrno("read standard input", errno);
      if (interrupt_flag_ && *interrupt_flag_) {
        eof_ = true;
        return end_ > begin_;
      }
      continue;
    }
    if (n == 0) {
      eof_ = true;
      return end_ > begin_;
    }
    end_ += size_t(n);
    bytes_read_ += uint64_t(n);
    std::memset(buf_.get() + end_, 0, std::min(kPadding, cap_ + kPadding - end_));
    return true;
  }
}

bool RecordReader::WaitReadable(int timeout_ms) {
  return WaitReadableOr(-1, timeout_ms) & kInputReady;
}

int RecordReader::WaitReadableOr(int other_fd, int timeout_ms) {
  if (eof_) return kInputReady;
  struct pollfd p[3] = {{fd_, POLLIN, 0}, {interrupt_fd_, POLLIN, 0}, {other_fd, POLLIN, 0}};
  int rc;
  do {
    rc = ::poll(p, 3, timeout_ms);  // negative fds are ignored by poll
  } while (rc < 0 && errno == EINTR && interrupt_fd_ >= 0);
  if (rc < 0) return kInputReady;  // let read() report it
  int mask = 0;
  if (p[0].revents) mask |= kInputReady;  // readable, hung up, or an error read() reports
  if (p[2].revents) mask |= kOtherReady;
  if (p[1].revents) mask |= kStopRequested;
  return mask;
}

}  // namespace kstream
