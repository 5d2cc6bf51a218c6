#include "serve/listener.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace kstream::serve {

namespace {

int Millis(time_t sec, time_t usec) {
  return int(sec * 1000 + usec / 1000);
}

void AddressOf(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  const int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                     : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "0";
  if (r == 0)
    ::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), serv, sizeof(serv),
                  NI_NUMERICHOST | NI_NUMERICSERV);
  ip = host;
  port = std::atoi(serv);
}

// A connected socket as cpp-httplib reads and writes it, with a read buffer
// that may start with bytes already read (the ones that told HTTP/1.1 from
// HTTP/2). Reads and writes wait at most their timeouts.
class SocketStream final : public httplib::Stream {
 public:
  SocketStream(int fd, std::string_view received, int read_timeout_ms, int write_timeout_ms)
      : fd_(fd),
        buffer_(received),
        read_timeout_ms_(read_timeout_ms),
        write_timeout_ms_(write_timeout_ms) {
    AddressOf(fd, true, remote_ip_, remote_port_);
    AddressOf(fd, false, local_ip_, local_port_);
  }

  bool has_buffered() const { return offset_ < buffer_.size(); }
  bool is_readable() const override { return has_buffered() || Ready(POLLIN, read_timeout_ms_); }
  bool is_writable() const override { return Ready(POLLOUT, write_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    if (!has_buffered()) {
      buffer_.resize(kBufferSize);
      offset_ = 0;
      const ssize_t n = Receive(buffer_.data(), buffer_.size());
      buffer_.resize(n > 0 ? size_t(n) : 0);
      if (n <= 0) return n;
    }
    const size_t n = std::min(size, buffer_.size() - offset_);
    std::memcpy(ptr, buffer_.data() + offset_, n);
    offset_ += n;
    return ssize_t(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    for (;;) {
      const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0 || errno == EINTR) {
        if (n >= 0) return n;
        continue;
      }
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !is_writable()) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return fd_; }

 private:
  static constexpr size_t kBufferSize = 16 << 10;

  bool Ready(short events, int timeout_ms) const {
    pollfd p{fd_, events, 0};
    int r;
    while ((r = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    return r > 0;
  }
  // What is there now, else waits for it (a request's bytes usually are).
  ssize_t Receive(char* ptr, size_t size) {
    for (;;) {
      const ssize_t n = ::recv(fd_, ptr, size, MSG_DONTWAIT);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !Ready(POLLIN, read_timeout_ms_)) return -1;
    }
  }

  int fd_;
  std::string buffer_;
  size_t offset_ = 0;
  int read_timeout_ms_, write_timeout_ms_;
  std::string remote_ip_, local_ip_;
  int remote_port_ = 0, local_port_ = 0;
};

// Reads the opening bytes of a connection, within timeout_ms: as many as
// it takes to see whether they are the HTTP/2 preface.
std::string ReadOpening(int fd, int timeout_ms) {
  std::string opening;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (opening.size() < kH2Preface.size() && kH2Preface.substr(0, opening.size()) == opening) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, int(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    opening.append(buf, size_t(n));
  }
  return opening;
}

}  // namespace

bool Listener::process_and_close_socket(socket_t sock) {
  const std::string opening = ReadOpening(sock, Millis(read_timeout_sec_, read_timeout_usec_));
  bool ok = true;
  if (opening.rfind(kH2Preface, 0) == 0) {
    std::string ip;
    int port;
    AddressOf(sock, true, ip, port);
    ServeH2Connection(sock, opening, ip, limits_, respond_, h2_workers_,
                      [this] { return svr_sock_ == INVALID_SOCKET; });
  } else if (!opening.empty() && kH2Preface.substr(0, opening.size()) != opening) {
    ok = ServeHttp1(sock, opening);  // (a preface cut short is dropped)
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

// cpp-httplib's keep-alive loop, over our stream: requests until the client
// closes, keep_alive_max_count, an idle keep-alive timeout, or a stop.
bool Listener::ServeHttp1(socket_t sock, std::string_view received) {
  SocketStream stream(sock, received, Millis(read_timeout_sec_, read_timeout_usec_),
                      Millis(write_timeout_sec_, write_timeout_usec_));
  const int idle_ms = int(keep_alive_timeout_sec_ * 1000);
  bool ok = false;
  for (size_t count = keep_alive_max_count_; count > 0; --count) {
    // Waits for the next request in slices, so that a stop ends an idle connection.
    bool readable = stream.has_buffered();
    for (int waited = 0; !readable && waited < idle_ms && svr_sock_ != INVALID_SOCKET;
         waited += 100) {
      pollfd p{sock, POLLIN, 0};
      readable = ::poll(&p, 1, std::min(100, idle_ms - waited)) > 0;
    }
    if (!readable || svr_sock_ == INVALID_SOCKET) break;
    bool closed = false;
    ok = process_request(stream, count == 1, closed, nullptr);
    if (!ok || closed) break;
  }
  return ok;
}

}  // namespace kstream::serve
