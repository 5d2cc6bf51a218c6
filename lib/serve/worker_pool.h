// A fixed-size pool of threads for the requests of HTTP/2 connections: the
// thread that owns a connection hands each request here and goes back to
// its socket. Threads start as the work asks for them, up to the limit.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kstream::serve {

class WorkerPool {
 public:
  explicit WorkerPool(size_t max_threads);
  // Runs every job already submitted, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job` for the next free thread. The queue has no bound of its
  // own: callers bound what they submit (a connection, its open streams).
  void Submit(std::function<void()> job);

 private:
  void Run();

  const size_t max_threads_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  std::vector<std::thread> threads_;        // guarded by mu_
  size_t idle_ = 0;                         // threads waiting for a job; guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
};

}  // namespace kstream::serve
