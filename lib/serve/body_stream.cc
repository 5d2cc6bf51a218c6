#include "serve/body_stream.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace kstream::serve {

bool BodyStream::Write(std::string_view bytes, const std::function<bool()>& give_up) {
  std::function<void()> wake;
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (!room_.wait_for(lock, std::chrono::milliseconds(100), [&] {
      return cancelled_ || buffer_.size() - offset_ < max_buffered_;
    })) {
      if (give_up && give_up()) return false;
    }
    if (cancelled_) return false;
    if (offset_ > 0) {  // compact what was read
      buffer_.erase(0, offset_);
      offset_ = 0;
    }
    buffer_.append(bytes);
    wake = wake_;
  }
  if (wake) wake();
  return true;
}

void BodyStream::Finish() {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    wake = wake_;
  }
  if (wake) wake();
}

bool BodyStream::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

size_t BodyStream::Read(char* out, size_t max, bool* ended) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t n = std::min(max, buffer_.size() - offset_);
  std::memcpy(out, buffer_.data() + offset_, n);
  offset_ += n;
  *ended = finished_ && offset_ == buffer_.size();
  if (n) room_.notify_all();
  return n;
}

bool BodyStream::Ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_ || offset_ < buffer_.size();
}

void BodyStream::SetWaker(std::function<void()> wake) {
  bool ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = wake;
    ready = finished_ || offset_ < buffer_.size();
  }
  if (ready && wake) wake();
}

void BodyStream::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    wake_ = nullptr;
  }
  room_.notify_all();
}

}  // namespace kstream::serve
