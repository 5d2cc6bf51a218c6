#include "serve/http_server.h"

#include <httplib.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "core/text.h"
#include "serve/listener.h"

namespace kstream::serve {

namespace {
constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";
constexpr char kJsonType[] = "application/x-amz-json-1.1";
constexpr char kCborType[] = "application/x-amz-cbor-1.1";
constexpr char kEventStreamType[] = "application/vnd.amazon.eventstream";

int64_t EpochMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// A random request id shaped like the service's (a UUID).
std::string RequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  char buf[40];
  snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-%04x-%012llx", unsigned(a >> 32),
           unsigned(a >> 16) & 0xffff, unsigned(a) & 0xfff, unsigned(b >> 48) & 0xffff,
           static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

}  // namespace

Status ParseListenAddress(const std::string& text, std::string& host, int& port) {
  std::string port_text = text;
  host = "127.0.0.1";
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find("]:");
    if (close == std::string::npos)
      return Status::InvalidArgument("invalid listen address '" + text + "' (use [::1]:4567)");
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else if (const size_t colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  char* end = nullptr;
  const long p = std::strtol(port_text.c_str(), &end, 10);
  if (host.empty() || port_text.empty() || *end || p < 0 || p > 65535)
    return Status::InvalidArgument("invalid listen address '" + text +
                                   "' (use HOST:PORT, e.g. 127.0.0.1:4567)");
  port = int(p);
  return Status::Ok();
}

HttpReply HandleRequest(Service& service, std::string_view content_type, std::string_view target,
                        std::string_view body, const ApiStatus& auth, bool http2) {
  HttpReply reply;
  const Encoding encoding =
      content_type.rfind("application/x-amz-cbor", 0) == 0 ? Encoding::kCbor : Encoding::kJson;
  reply.content_type = encoding == Encoding::kCbor ? kCborType : kJsonType;
  Writer out(encoding);
  ApiStatus status;
  if (target.rfind(kTargetPrefix, 0) != 0) {
    status = ApiError{"UnknownOperationException",
                      target.empty() ? "Missing X-Amz-Target header"
                                     : "Unknown X-Amz-Target '" + std::string(target) + "'"};
  } else if (reply.operation = target.substr(kTargetPrefix.size()); !auth.ok()) {
    status = auth;
  } else {
    auto request = encoding == Encoding::kCbor ? DecodeCbor(body) : DecodeJson(body);
    if (!request.ok()) {
      status = ApiError::Serialization(request.status().message());
    } else if (http2 && reply.operation == "SubscribeToShard") {
      auto stream = service.SubscribeToShard(*request, encoding);
      if (stream.ok()) {
        reply.stream = std::move(stream).value();
        reply.content_type = kEventStreamType;
        return reply;
      }
      status = stream.status();
    } else {
      status = service.Call(reply.operation, *request, out);
    }
  }
  if (status.ok()) {
    reply.body = std::move(out.body());
    return reply;
  }
  const ApiError& e = status.error();
  Writer err(encoding);
  err.BeginObject();
  err.Key("__type");
  err.String(e.type);
  err.Key("message");
  err.String(e.message);
  err.EndObject();
  reply.status = e.http_status;
  reply.error_type = e.type;
  reply.body = std::move(err.body());
  return reply;
}

namespace {

class AccessLog {
 public:
  Status Open(const std::string& path) {
    if (path.empty()) return Status::Ok();
    if (path == "-") {
      file_ = stderr;
      return Status::Ok();
    }
    file_ = std::fopen(path.c_str(), "a");
    if (!file_) return Status::FromErrno("open access log " + path, errno);
    owned_ = true;
    return Status::Ok();
  }
  ~AccessLog() {
    if (owned_) std::fclose(file_);
  }
  bool enabled() const { return file_ != nullptr; }
  // time remote operation status error-type bytes-in bytes-out milliseconds
  void Write(const WireRequest& req, const HttpReply& reply, double ms) {
    std::string line = FormatTimestamp(EpochMillis());
    char tail[96];
    snprintf(tail, sizeof(tail), " %d %s %zu %zu %.1f\n", reply.status,
             reply.error_type.empty() ? "-" : reply.error_type.c_str(), req.body.size(),
             reply.body.size(), ms);
    line += " " + req.remote_addr + " " + (reply.operation.empty() ? "-" : reply.operation) + tail;
    std::lock_guard<std::mutex> lock(mu_);
    std::fputs(line.c_str(), file_);
    std::fflush(file_);
  }

 private:
  std::mutex mu_;
  FILE* file_ = nullptr;
  bool owned_ = false;
};

// The answer to one request of either protocol: the signature check under
// --require-auth, the operation, the headers the service sends, the access log.
WireResponse Respond(Service& service, const ServerOptions& options, AccessLog& log,
                     const WireRequest& req) {
  const auto start = std::chrono::steady_clock::now();
  ApiStatus auth;
  if (options.keys) {
    SignedRequest signed_request{req.method, req.target, req.headers, req.body};
    auth = VerifySignature(*options.keys, signed_request, EpochMillis() / 1000);
  }
  HttpReply reply = HandleRequest(service, req.Header("Content-Type"), req.Header("X-Amz-Target"),
                                  req.body, auth, req.http2);
  WireResponse res;
  res.status = reply.status;
  res.headers = {{"Content-Type", reply.content_type}, {"x-amzn-RequestId", RequestId()}};
  if (!reply.error_type.empty()) res.headers.emplace_back("x-amzn-ErrorType", reply.error_type);
  if (log.enabled()) {
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    log.Write(req, reply, took.count());
  }
  res.body = std::move(reply.body);
  res.stream = std::move(reply.stream);
  return res;
}

constexpr char kInternalFailure[] =
    R"({"__type":"InternalFailure","message":"Internal Service Failure"})";

}  // namespace

Status RunServer(Service& service, const ServerOptions& options, int stop_fd,
                 const std::function<void(const std::string& host, int port)>& on_listening) {
  AccessLog log;
  KS_RETURN_IF_ERROR(log.Open(options.access_log));
  H2Limits h2_limits;
  h2_limits.max_body_bytes = options.max_body_bytes;
  h2_limits.max_streams = options.max_h2_streams;
  // HTTP/2 requests get as many workers as there are connection threads:
  // the same concurrency one HTTP/1.1 connection per request would get.
  Listener server(h2_limits, size_t(options.threads), [&](const WireRequest& req) {
    try {
      return Respond(service, options, log, req);
    } catch (const std::exception&) {
      return WireResponse{500,
                          {{"Content-Type", kJsonType}, {"x-amzn-ErrorType", "InternalFailure"}},
                          kInternalFailure,
                          nullptr};
    }
  });
  const int threads = options.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  server.set_keep_alive_max_count(100000);
  server.set_tcp_nodelay(true);  // answers are written in pieces; no 40 ms delayed-ACK stalls
  server.set_payload_max_length(options.max_body_bytes);
  server.Post(".*", [&](const httplib::Request& req, httplib::Response& res) {
    WireRequest wire{req.method,
                     req.target,
                     req.remote_addr,
                     {req.headers.begin(), req.headers.end()},
                     req.body};
    WireResponse answer = Respond(service, options, log, wire);
    res.status = answer.status;
    std::string content_type;
    for (auto& [name, value] : answer.headers) {
      if (name == "Content-Type")
        content_type = std::move(value);
      else
        res.set_header(name, value);
    }
    res.set_content(std::move(answer.body), content_type.c_str());
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_header("x-amzn-ErrorType", "InternalFailure");
        res.set_content(kInternalFailure, kJsonType);
      });

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.host.c_str());
    if (port < 0) return Status::IOError("cannot listen on " + options.host + ": bind failed");
  } else if (!server.bind_to_port(options.host.c_str(), port)) {
    return Status::IOError("cannot listen on " + options.host + ":" + std::to_string(port) +
                           " (in use, or not an address of this machine)");
  }
  // The socket listens from here on (connections queue until accepted).
  int wake[2];
  if (::pipe(wake) != 0) return Status::FromErrno("pipe", errno);
  std::atomic<bool> listen_returned{false};
  std::thread stopper([&] {
    pollfd fds[2] = {{stop_fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    // Subscriptions end first (their streams close cleanly), so the
    // connections' GOAWAYs are not held up by them.
    service.EndSubscriptions();
    // A stop before the accept loop started would be lost: wait for it.
    while (!server.is_running() && !listen_returned)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server.stop();
  });
  if (on_listening) on_listening(options.host, port);
  server.listen_after_bind();  // returns once stopped
  listen_returned = true;
  (void)!::write(wake[1], "x", 1);
  stopper.join();
  ::close(wake[0]);
  ::close(wake[1]);
  return Status::Ok();
}

}  // namespace kstream::serve
