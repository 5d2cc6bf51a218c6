// A response body produced while it is sent (SubscribeToShard's event
// stream): a producer thread writes, the connection's thread reads what is
// there without blocking and is woken when more comes. Bounded: the
// producer waits while max_buffered bytes are unread, so a client that
// stops reading holds at most that much. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>

namespace kstream::serve {

class BodyStream {
 public:
  explicit BodyStream(size_t max_buffered = 4u << 20) : max_buffered_(max_buffered) {}
  BodyStream(const BodyStream&) = delete;
  BodyStream& operator=(const BodyStream&) = delete;

  // Producer side. Write waits while the buffer is full; false (nothing
  // written) once the reader has cancelled, or if give_up() turns true
  // while it waits (checked every 100 ms).
  bool Write(std::string_view bytes, const std::function<bool()>& give_up = nullptr);
  // No more bytes: the body ends once the reader has taken them.
  void Finish();
  bool cancelled() const;

  // Reader side. Moves up to max bytes into out; *ended is set once
  // everything was read and Finish was called.
  size_t Read(char* out, size_t max, bool* ended);
  // True if Read would return bytes or the end right now.
  bool Ready() const;
  // Called (on the producer's thread) after each Write and Finish, and at
  // once if bytes are already waiting; it must not call back in.
  void SetWaker(std::function<void()> wake);
  // The reader is gone (stream reset, connection closed): the producer's
  // next Write fails and a waiting one returns.
  void Cancel();

 private:
  const size_t max_buffered_;
  mutable std::mutex mu_;
  std::condition_variable room_;
  std::string buffer_;  // guarded by mu_
  size_t offset_ = 0;   // read up to here; guarded by mu_
  bool finished_ = false;
  bool cancelled_ = false;
  std::function<void()> wake_;  // guarded by mu_
};

}  // namespace kstream::serve
