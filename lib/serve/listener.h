// The listening side of kstream-serve: cpp-httplib's server (accept loop,
// thread pool of --threads, graceful stop), with each accepted connection
// first told apart by its opening bytes: the HTTP/2 preface goes to an h2c
// session (serve/h2c.h), anything else is HTTP/1.1 for cpp-httplib, both
// answered by one Responder. An HTTP/1.1 connection's requests run on its
// pool thread; an HTTP/2 connection's thread hands its requests to a second
// pool (h2_workers threads, shared by all HTTP/2 connections), so that the
// streams of one connection are answered at once.
#pragma once

#include <httplib.h>

#include "serve/h2c.h"
#include "serve/worker_pool.h"

namespace kstream::serve {

class Listener : public httplib::Server {
 public:
  // h2c requests go to `respond`; HTTP/1.1 ones to the handlers registered
  // with httplib (Post(...)), which should call the same Responder.
  Listener(const H2Limits& limits, size_t h2_workers, Responder respond)
      : limits_(limits), respond_(std::move(respond)), h2_workers_(h2_workers) {}

 private:
  // Runs on a thread of the pool for each accepted connection; closes it.
  bool process_and_close_socket(socket_t sock) override;
  bool ServeHttp1(socket_t sock, std::string_view received);

  H2Limits limits_;
  Responder respond_;
  // Declared last: destroyed first, finishing its jobs while respond_ lives.
  WorkerPool h2_workers_;
};

}  // namespace kstream::serve
