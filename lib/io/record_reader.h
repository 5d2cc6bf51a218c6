// RecordReader: splits a byte stream (stdin) into delimited records with
// large reads, counting lines, and never holding more than one record's worth
// of a line longer than the limit.
//
// A returned view stays valid until the next Fill(). At least kPadding
// readable bytes follow every view, as simdjson requires of its input.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/status.h"
#include "core/stop_flag.h"

namespace kstream {

class RecordReader {
 public:
  static constexpr size_t kPadding = 64;

  RecordReader(int fd, char delimiter, size_t max_record_bytes);

  struct Item {
    std::string_view data;  // the record, without its delimiter
    uint64_t number = 0;    // 1-based record (line) number
    bool too_long = false;  // longer than max_record_bytes; data is empty
  };
  // Next complete record already buffered; false when one more Fill() is
  // needed (or at the end of input).
  bool Next(Item& item);
  // Reads more input, blocking until some arrives. False at end of input.
  Result<bool> Fill();
  // True when input can be read without blocking within timeout_ms.
  bool WaitReadable(int timeout_ms);
  // Waits for input or for other_fd (ignored when -1) to become readable, or
  // a stop: returns a mask of kInputReady, kOtherReady and kStopRequested, 0
  // on timeout.
  static constexpr int kInputReady = 1, kOtherReady = 2, kStopRequested = 4;
  int WaitReadableOr(int other_fd, int timeout_ms);
  bool at_eof() const { return eof_; }
  // When set, input ends (a clean stop on SIGINT/SIGTERM) as soon as
  // interrupt_fd becomes readable, even while waiting for input: a signal
  // handler writes to it (the self-pipe trick, so no signal is missed).
  void set_interrupt_fd(int interrupt_fd) { interrupt_fd_ = interrupt_fd; }
  // Without a self-pipe: a read interrupted by a signal while *flag is true
  // ends the input (a signal just before the read is only seen with more input).
  void set_interrupt_flag(const StopFlag* flag) { interrupt_flag_ = flag; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  int fd_;
  char delim_;
  size_t max_record_;
  std::unique_ptr<char[]> buf_;
  size_t cap_;
  size_t begin_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // end of valid data
  uint64_t number_ = 0;
  uint64_t bytes_read_ = 0;
  bool eof_ = false;
  bool discarding_ = false;  // inside a too-long record: drop up to its end
  int interrupt_fd_ = -1;
  const StopFlag* interrupt_flag_ = nullptr;
};

}  // namespace kstream
