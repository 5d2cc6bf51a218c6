// The HTTP side of kstream-serve: POST / with X-Amz-Target
// "Kinesis_20131202.<Operation>" and a JSON or CBOR body, answered in the
// request's encoding with the service's status codes, error bodies
// ({"__type", "message"}, plus the x-amzn-ErrorType header) and an
// x-amzn-RequestId header. HTTP/1.1 (keep-alive) is cpp-httplib's; HTTP/2
// with prior knowledge (h2c, the JavaScript SDK v3's default) on the same
// port is libnghttp2's (serve/h2c.h); both go through one request path.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "serve/auth.h"
#include "serve/service.h"

namespace kstream::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 4567;  // 0: any free port (reported through on_listening)
  int threads = 64;
  std::string access_log;             // a file to append to, "-" for stderr, empty for none
  size_t max_body_bytes = 16u << 20;  // per request, either protocol: larger is 413
  uint32_t max_h2_streams = 100;      // concurrent streams per HTTP/2 connection
  // --require-auth: the keys whose SigV4 signatures are accepted; null
  // accepts any request, signed or not.
  const KeyRing* keys = nullptr;
};

// "127.0.0.1:4567", "4567" (loopback), "[::1]:4567", "0.0.0.0:4567".
Status ParseListenAddress(const std::string& text, std::string& host, int& port);

// Parses and runs one request: the encoding from Content-Type, the operation
// from X-Amz-Target. Returns the HTTP status and fills body, content type and
// error type (empty on success). A failed `auth` (the signature check) is
// answered instead of running the operation. SubscribeToShard over HTTP/2
// (`http2`) answers with `stream`, an event stream, instead of a body.
// Independent of the HTTP library, so tests can call it directly.
struct HttpReply {
  int status = 200;
  std::string body;
  std::shared_ptr<BodyStream> stream;
  std::string content_type;
  std::string error_type;
  std::string operation;
};
HttpReply HandleRequest(Service& service, std::string_view content_type, std::string_view target,
                        std::string_view body, const ApiStatus& auth = {}, bool http2 = false);

// Serves until stop_fd becomes readable (then finishes the requests in
// flight and returns Ok), or fails to listen. on_listening gets the bound
// port once requests are being accepted.
Status RunServer(Service& service, const ServerOptions& options, int stop_fd,
                 const std::function<void(const std::string& host, int port)>& on_listening);

}  // namespace kstream::serve
