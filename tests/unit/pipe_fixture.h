// Shared by the io, produce and consume tests: real pipes fed from a thread,
// output files for RecordWriter, bounded waits, and kstream-get --json output
// parsed back into records.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <simdjson.h>

#include "core/text.h"
#include "test_util.h"

namespace kstest {

// Writes all of bytes to fd; false if the reader went away (EPIPE).
inline bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    bytes.remove_prefix(size_t(n));
  }
  return true;
}

// A pipe(2); both ends are closed on destruction. SIGPIPE is ignored so a
// write to a pipe without reader fails with EPIPE instead of killing the test.
class Pipe {
 public:
  Pipe() {
    ::signal(SIGPIPE, SIG_IGN);
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    r_ = fds[0];
    w_ = fds[1];
  }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  int r() const { return r_; }
  int w() const { return w_; }
  void Write(std::string_view bytes) { REQUIRE(WriteAll(w_, bytes)); }
  void CloseRead() { Close(r_); }
  void CloseWrite() { Close(w_); }

 private:
  static void Close(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int r_ = -1, w_ = -1;
};

// A pipe whose write end a thread fills with `bytes`, `chunk` bytes per
// write(2), then closes: the reader sees the input arrive in pieces.
class Feeder {
 public:
  explicit Feeder(std::string bytes, size_t chunk = 64 * 1024) : bytes_(std::move(bytes)) {
    thread_ = std::thread([this, chunk] {
      for (size_t off = 0; off < bytes_.size(); off += chunk)
        if (!WriteAll(pipe_.w(), std::string_view(bytes_).substr(off, chunk))) break;
      pipe_.CloseWrite();
    });
  }
  // Closing the read end first unblocks a writer whose reader stopped early.
  ~Feeder() {
    pipe_.CloseRead();
    thread_.join();
  }
  int fd() const { return pipe_.r(); }

 private:
  std::string bytes_;
  Pipe pipe_;
  std::thread thread_;
};

// A file to give RecordWriter as its output fd.
class OutFile {
 public:
  OutFile() : path_(dir_.Sub("out")) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd_ >= 0);
  }
  ~OutFile() { ::close(fd_); }
  int fd() const { return fd_; }
  std::string Contents() const { return ReadFileBytes(path_); }

 private:
  TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

// Splits text on delim; a final piece without delimiter counts too.
inline std::vector<std::string> Split(std::string_view text, char delim = '\n') {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t at = text.find(delim);
    if (at == std::string_view::npos) at = text.size();
    out.emplace_back(text.substr(0, at));
    text.remove_prefix(std::min(text.size(), at + 1));
  }
  return out;
}

// Polls pred every few milliseconds for at most timeout_ms.
inline bool WaitUntil(const std::function<bool()>& pred, int timeout_ms = 10000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// One kstream-get --json (or kstream-put --print) line, parsed back.
struct Envelope {
  uint64_t shard = 0;
  uint128 sequence = 0;
  std::string key;
  int64_t arrival_ms = 0;
  std::optional<uint128> explicit_hash_key;
  std::string data;  // decoded from base64
  std::optional<uint64_t> sub_sequence;
  bool has_key = false, has_arrival = false, has_data = false;
};

inline Envelope ParseEnvelope(std::string_view line) {
  static simdjson::dom::parser parser;
  simdjson::dom::object obj;
  auto err = parser.parse(simdjson::padded_string(line)).get(obj);
  REQUIRE_MESSAGE(!err, "not a JSON object: " << std::string(line));
  Envelope e;
  std::string_view s;
  REQUIRE(!obj["ShardId"].get(s));
  e.shard = Value(kstream::ParseShardId(s));
  REQUIRE(!obj["SequenceNumber"].get(s));
  e.sequence = Value(kstream::ParseDecimal128(s, "SequenceNumber"));
  if (!obj["PartitionKey"].get(s)) {
    e.key = std::string(s);
    e.has_key = true;
  }
  double seconds;
  if (!obj["ApproximateArrivalTimestamp"].get(seconds)) {
    e.arrival_ms = std::llround(seconds * 1000);
    e.has_arrival = true;
  }
  uint64_t sub;
  if (!obj["SubSequenceNumber"].get(sub)) e.sub_sequence = sub;
  if (!obj["ExplicitHashKey"].get(s))
    e.explicit_hash_key = Value(kstream::ParseDecimal128(s, "ExplicitHashKey"));
  if (!obj["Data"].get(s)) {
    REQUIRE(kstream::DecodeBase64(s, e.data));
    e.has_data = true;
  }
  return e;
}

inline std::vector<Envelope> ParseEnvelopes(std::string_view text) {
  std::vector<Envelope> out;
  for (const auto& line : Split(text)) out.push_back(ParseEnvelope(line));
  return out;
}

}  // namespace kstest
