// HTTP/2 over cleartext with prior knowledge (h2c), as the AWS SDK for
// JavaScript v3 speaks it by default: one connection, many concurrent
// streams, each a request answered by the same Responder as HTTP/1.1, the
// streams of one connection at the same time.
// The framing, HPACK and flow control are libnghttp2's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kstream::serve {

class BodyStream;

// One request as either protocol delivered it. Over HTTP/2 the header names
// are lower case and include the pseudo-header ":authority" (what SigV4
// signs instead of "host"); method and target come from ":method" and ":path".
struct WireRequest {
  std::string method;
  std::string target;  // path and query
  std::string remote_addr;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
  bool http2 = false;  // arrived over HTTP/2 (a streamed answer is possible)

  // The first value of header `name` (case-insensitive), or "".
  std::string_view Header(std::string_view name) const;
};

struct WireResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // any case (HTTP/2 lowers it)
  std::string body;
  // HTTP/2 only: a body sent as it is produced (no content-length), instead
  // of `body`; cancelled when the stream or connection ends first.
  std::shared_ptr<BodyStream> stream = nullptr;
};

using Responder = std::function<WireResponse(const WireRequest&)>;

// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": how an h2c client with prior knowledge
// opens a connection.
inline constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct H2Limits {
  size_t max_body_bytes = 16u << 20;  // per request; a larger one is answered 413
  uint32_t max_streams = 100;         // SETTINGS_MAX_CONCURRENT_STREAMS
  // Request bodies buffered at once on one connection, those being answered
  // included; a stream that would pass it is refused (RST_STREAM
  // REFUSED_STREAM, safe for the client to retry).
  size_t max_buffered_bytes = 64u << 20;
  // Answers waiting for the peer's flow-control window on one connection:
  // past it, no further request of the connection is started until the peer
  // reads (a client that stops reading cannot make the server hold more).
  size_t max_unsent_bytes = 64u << 20;
  int idle_timeout_ms = 5000;  // no open stream: the connection is closed
  int io_timeout_ms = 5000;    // an open stream that no worker is on waits this long for bytes
};

// A request that has arrived whole on stream `stream_id`, for the caller to
// answer (on any thread) and hand back to H2Session::Answer.
struct H2Request {
  int32_t stream_id = 0;
  WireRequest request;  // request.body is left empty: point it at `body` (which moves)
  std::string body;
};

// The protocol state of one h2c connection, independent of the socket and
// of who answers (so it can be fuzzed): bytes in, requests out, answers in,
// bytes out. Not thread-safe: one thread calls it (nghttp2 sessions are not
// thread-safe); the answers may be computed anywhere.
class H2Session {
 public:
  H2Session(std::string remote_addr, const H2Limits& limits);
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Feeds bytes read from the peer (the first call starts with the preface).
  // Requests they complete are queued for TakeRequests; one past the body
  // limit or not a POST is answered here (413, 404). False on a protocol
  // error: a GOAWAY is queued; send the output, then close.
  bool Receive(std::string_view bytes);
  // The requests completed since the last call, in the order they ended.
  std::vector<H2Request> TakeRequests();
  // Submits the answer to a request from TakeRequests, in any order. The
  // answer to a stream that has closed meanwhile (reset by the peer) is dropped.
  void Answer(int32_t stream_id, WireResponse response);
  // Appends to `out` the bytes that are ready to send (at most about 64 KiB
  // more per call). False on a fatal error.
  bool Send(std::string& out);
  // False once the session is finished (both sides said GOAWAY, or an error).
  bool Alive() const;
  bool WantsWrite() const;
  // Streams opened and not yet closed (those being answered included).
  size_t OpenStreams() const;
  // Bytes of submitted answers not yet handed to Send: they wait for the
  // peer's flow-control window.
  size_t UnsentBytes() const;
  // Streamed answers still being sent; Resume after their producers wrote
  // (a stream with nothing to send waits, deferred, until then).
  size_t StreamingAnswers() const;
  void ResumeStreamingAnswers();
  // GOAWAY (no error) after the last stream received; later ones are
  // refused, those received are still answered.
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class WorkerPool;

// Serves the h2c connection on the connected, blocking socket `fd` until the
// peer closes it, a protocol error (answered with GOAWAY), a timeout, or
// `stopping()` turns true (then GOAWAY, and the requests already received
// are answered before the connection ends). `received` holds the bytes
// already read from fd, starting with the preface. The calling thread owns
// the session; the requests of the connection run on `workers` at once
// (up to the concurrent-streams limit), their answers sent as they finish;
// a streamed answer (WireResponse::stream) is sent by this thread as its
// producer writes, woken through the same queue as the answers, so it holds
// no worker. Does not close fd. Malformed input never crashes.
void ServeH2Connection(int fd, std::string_view received, std::string remote_addr,
                       const H2Limits& limits, const Responder& respond, WorkerPool& workers,
                       const std::function<bool()>& stopping);

}  // namespace kstream::serve
