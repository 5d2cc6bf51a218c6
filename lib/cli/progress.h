// Progress on stderr for long-running work, only when stderr is a terminal
// (and not --quiet): "kstream-put: 1200000 records  118.2 MB  980000 rec/s".
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace kstream::cli {

class Progress {
 public:
  Progress(std::string tool, bool quiet)
      : tool_(std::move(tool)), enabled_(!quiet && isatty(STDERR_FILENO)) {}
  ~Progress() { Finish(); }

  // Cheap enough to call per batch: prints at most twice a second.
  void Update(uint64_t records, uint64_t bytes) {
    if (!Due()) return;
    char text[64];
    std::snprintf(text, sizeof text, "%llu records  %.1f MB",
                  static_cast<unsigned long long>(records), double(bytes) / 1e6);
    Show(text, records);
  }
  // For a line of the caller's own: true when one is to be shown now.
  bool Due() const { return enabled_ && Clock::now() - last_ >= std::chrono::milliseconds(500); }
  // Shows "<tool>: <text>  <records per second since the start> rec/s".
  void Show(const char* text, uint64_t records) {
    last_ = Clock::now();
    const double secs = std::chrono::duration<double>(last_ - start_).count();
    std::fprintf(stderr, "\r%s: %s  %.0f rec/s   ", tool_.c_str(), text,
                 secs > 0 ? double(records) / secs : 0.0);
    shown_ = true;
  }
  void Finish() {
    if (shown_) std::fputc('\n', stderr);
    shown_ = false;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::string tool_;
  bool enabled_;
  bool shown_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = Clock::now();
};

}  // namespace kstream::cli
