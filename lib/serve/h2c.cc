#include "serve/h2c.h"

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>

#include "serve/body_stream.h"
#include "serve/worker_pool.h"

namespace kstream::serve {

std::string_view WireRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return {};
}

namespace {

constexpr size_t kMaxHeaderBytes = 64 << 10;  // per request, names and values
constexpr size_t kSendChunk = 64 << 10;

struct Stream {
  WireRequest request;
  std::string body;
  size_t body_bytes = 0;  // received, counted in Impl::buffered until answered or closed
  size_t header_bytes = 0;
  bool too_large = false;  // past max_body_bytes: answered 413
  bool refused = false;    // reset (REFUSED_STREAM): not answered
  bool taken = false;      // handed out by TakeRequests
  bool answered = false;
  WireResponse response;
  size_t sent = 0;        // bytes of response.body handed to nghttp2
  bool deferred = false;  // a streamed answer waiting for its producer
};

}  // namespace

struct H2Session::Impl {
  std::string remote_addr;
  H2Limits limits;
  nghttp2_session* session = nullptr;
  std::map<int32_t, Stream> streams;
  std::vector<int32_t> ended;      // streams whose request has ended, in order
  std::vector<H2Request> pending;  // requests for TakeRequests
  size_t buffered = 0;             // request body bytes of open streams not yet answered
  size_t unsent = 0;               // answer body bytes not yet handed to nghttp2

  Impl(std::string remote, const H2Limits& l) : remote_addr(std::move(remote)), limits(l) {}

  Stream* Find(int32_t id) {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : &it->second;
  }
  void ReleaseBody(Stream& s) {
    buffered -= s.body_bytes;
    s.body_bytes = 0;
    std::string().swap(s.body);
  }
  void Submit(int32_t id, Stream& s, WireResponse response);
  void Finish(int32_t id);

  // nghttp2 callbacks (user_data is the Impl).
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* self);
  static int OnData(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* self);
  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int OnClose(nghttp2_session*, int32_t id, uint32_t, void* self);
  static ssize_t ReadBody(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source*, void* self);
  static ssize_t ReadStreamedBody(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                                  uint32_t* flags, nghttp2_data_source*, void* self);
};

int H2Session::Impl::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto* impl = static_cast<Impl*>(self);
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    impl->streams[frame->hd.stream_id].request.remote_addr = impl->remote_addr;
  return 0;
}

int H2Session::Impl::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                              size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                              void* self) {
  auto* impl = static_cast<Impl*>(self);
  Stream* s = impl->Find(frame->hd.stream_id);
  if (!s || s->taken) return 0;  // trailers of a stream we no longer track
  s->header_bytes += namelen + valuelen;
  if (s->header_bytes > kMaxHeaderBytes) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  std::string n(reinterpret_cast<const char*>(name), namelen);
  std::string v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":method") s->request.method = v;
  if (n == ":path") s->request.target = v;
  s->request.headers.emplace_back(std::move(n), std::move(v));
  return 0;
}

int H2Session::Impl::OnData(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                            size_t len, void* self) {
  auto* impl = static_cast<Impl*>(self);
  Stream* s = impl->Find(id);
  if (!s || s->too_large || s->refused || s->taken) return 0;
  if (s->body.size() + len > impl->limits.max_body_bytes) {
    s->too_large = true;
    impl->ReleaseBody(*s);
    return 0;
  }
  if (impl->buffered + len > impl->limits.max_buffered_bytes) {
    impl->ReleaseBody(*s);
    s->refused = true;
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  s->body.append(reinterpret_cast<const char*>(data), len);
  s->body_bytes += len;
  impl->buffered += len;
  return 0;
}

int H2Session::Impl::OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto* impl = static_cast<Impl*>(self);
  const bool request_part = frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA;
  if (request_part && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
      impl->Find(frame->hd.stream_id))
    impl->ended.push_back(frame->hd.stream_id);
  return 0;
}

int H2Session::Impl::OnClose(nghttp2_session*, int32_t id, uint32_t, void* self) {
  auto* impl = static_cast<Impl*>(self);
  if (Stream* s = impl->Find(id)) {
    if (s->response.stream) s->response.stream->Cancel();  // its producer stops
    impl->ReleaseBody(*s);
    if (s->answered) impl->unsent -= s->response.body.size() - s->sent;
    impl->streams.erase(id);
  }
  return 0;
}

ssize_t H2Session::Impl::ReadBody(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                                  uint32_t* flags, nghttp2_data_source*, void* self) {
  auto* impl = static_cast<Impl*>(self);
  Stream* s = impl->Find(id);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const std::string& body = s->response.body;
  const size_t n = std::min(length, body.size() - s->sent);
  std::copy_n(body.data() + s->sent, n, buf);
  s->sent += n;
  impl->unsent -= n;
  if (s->sent == body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return ssize_t(n);
}

ssize_t H2Session::Impl::ReadStreamedBody(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                                          uint32_t* flags, nghttp2_data_source*, void* self) {
  auto* impl = static_cast<Impl*>(self);
  Stream* s = impl->Find(id);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  bool ended = false;
  const size_t n = s->response.stream->Read(reinterpret_cast<char*>(buf), length, &ended);
  if (ended) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  } else if (n == 0) {
    s->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return ssize_t(n);
}

// Hands the answer to nghttp2: the header block now, the body as the
// peer's window lets it go (ReadBody).
void H2Session::Impl::Submit(int32_t id, Stream& s, WireResponse response) {
  ReleaseBody(s);
  s.answered = true;
  s.response = std::move(response);
  unsent += s.response.body.size();
  std::string status = std::to_string(s.response.status);
  std::string length = std::to_string(s.response.body.size());
  std::vector<nghttp2_nv> nva;
  auto add = [&](const std::string& name, const std::string& value) {
    nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                   value.size(), NGHTTP2_NV_FLAG_NONE});
  };
  const std::string status_name = ":status", length_name = "content-length";
  add(status_name, status);
  for (auto& [k, v] : s.response.headers) {
    for (char& c : k)
      c = char(std::tolower(static_cast<unsigned char>(c)));  // HTTP/2 wants lower case
    add(k, v);
  }
  if (!s.response.stream) add(length_name, length);
  nghttp2_data_provider body{};
  body.read_callback = s.response.stream ? ReadStreamedBody : ReadBody;
  // nghttp2 copies the header block; the body is read from the stream later.
  nghttp2_submit_response(session, id, nva.data(), nva.size(),
                          s.response.body.empty() && !s.response.stream ? nullptr : &body);
}

// A request has ended: answered here if it cannot reach the Responder,
// else queued for TakeRequests.
void H2Session::Impl::Finish(int32_t id) {
  Stream* s = Find(id);
  if (!s || s->taken || s->answered || s->refused) return;
  if (s->too_large) {
    Submit(id, *s, WireResponse{413, {}, {}, {}});  // as cpp-httplib answers HTTP/1.1
  } else if (s->request.method != "POST") {
    Submit(id, *s, WireResponse{404, {}, {}, {}});  // as cpp-httplib: only POST is routed
  } else {
    s->taken = true;  // its body stays counted in `buffered` until it is answered
    s->request.http2 = true;
    pending.push_back(H2Request{id, std::move(s->request), std::move(s->body)});
    s->request = WireRequest{};
    s->body.clear();
  }
}

H2Session::H2Session(std::string remote_addr, const H2Limits& limits)
    : impl_(std::make_unique<Impl>(std::move(remote_addr), limits)) {
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, Impl::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cb, Impl::OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, Impl::OnData);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, Impl::OnFrame);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, Impl::OnClose);
  nghttp2_session_server_new(&impl_->session, cb, impl_.get());
  nghttp2_session_callbacks_del(cb);
  // Windows of 1 MiB per stream and 16 MiB per connection keep big
  // PutRecords from waiting on WINDOW_UPDATEs; memory stays bounded by
  // max_body_bytes and max_buffered_bytes.
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, uint32_t(kMaxHeaderBytes)},
  };
  nghttp2_submit_settings(impl_->session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(impl_->session, NGHTTP2_FLAG_NONE, 0, 16 << 20);
}

H2Session::~H2Session() {
  for (auto& [id, s] : impl_->streams)
    if (s.response.stream) s.response.stream->Cancel();
  nghttp2_session_del(impl_->session);
}

bool H2Session::Receive(std::string_view bytes) {
  const ssize_t n = nghttp2_session_mem_recv(
      impl_->session, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  // Not inside a callback: submitting an answer may not re-enter nghttp2.
  std::vector<int32_t> ended;
  ended.swap(impl_->ended);
  for (int32_t id : ended) impl_->Finish(id);
  if (n < 0) {
    // A bad preface or frame: say why (GOAWAY) if nghttp2 has not already.
    nghttp2_session_terminate_session(impl_->session, NGHTTP2_PROTOCOL_ERROR);
    return false;
  }
  return true;
}

std::vector<H2Request> H2Session::TakeRequests() {
  std::vector<H2Request> taken;
  taken.swap(impl_->pending);
  return taken;
}

void H2Session::Answer(int32_t stream_id, WireResponse response) {
  Stream* s = impl_->Find(stream_id);
  if (!s || !s->taken || s->answered) {  // closed meanwhile, or not ours to answer
    if (response.stream) response.stream->Cancel();
    return;
  }
  impl_->Submit(stream_id, *s, std::move(response));
}

size_t H2Session::StreamingAnswers() const {
  size_t n = 0;
  for (const auto& [id, s] : impl_->streams) n += s.response.stream ? 1 : 0;
  return n;
}

void H2Session::ResumeStreamingAnswers() {
  for (auto& [id, s] : impl_->streams) {
    if (!s.deferred || !s.response.stream->Ready()) continue;
    s.deferred = false;
    nghttp2_session_resume_data(impl_->session, id);
  }
}

bool H2Session::Send(std::string& out) {
  const size_t limit = out.size() + kSendChunk;
  while (out.size() < limit) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(impl_->session, &data);
    if (n < 0) return false;
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), size_t(n));
  }
  return true;
}

bool H2Session::Alive() const {
  return nghttp2_session_want_read(impl_->session) || nghttp2_session_want_write(impl_->session);
}

bool H2Session::WantsWrite() const {
  return nghttp2_session_want_write(impl_->session);
}

size_t H2Session::OpenStreams() const {
  return impl_->streams.size();
}

size_t H2Session::UnsentBytes() const {
  return impl_->unsent;
}

void H2Session::Shutdown() {
  nghttp2_submit_goaway(impl_->session, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(impl_->session), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

namespace {

bool SendAll(int fd, std::string_view bytes, int timeout_ms) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
  }
  return true;
}

// Answers on their way back from the workers to the connection's thread
// (the only one that may call into the session); an eventfd wakes its poll.
// Shared with the jobs in the pool, so it outlives a connection that ends
// while some of its requests are still queued or running.
class AnswerQueue {
 public:
  AnswerQueue() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~AnswerQueue() {
    if (fd_ >= 0) ::close(fd_);
  }
  AnswerQueue(const AnswerQueue&) = delete;
  AnswerQueue& operator=(const AnswerQueue&) = delete;

  int fd() const { return fd_; }
  void Push(int32_t stream_id, WireResponse response) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (abandoned_) {  // no one will send it: a streamed answer's producer stops
        if (response.stream) response.stream->Cancel();
        return;
      }
      answers_.emplace_back(stream_id, std::move(response));
    }
    Poke();
  }
  // Wakes the connection's thread (a streamed answer has more to send).
  void Poke() {
    const uint64_t one = 1;
    (void)!::write(fd_, &one, sizeof(one));
  }
  std::vector<std::pair<int32_t, WireResponse>> Take() {
    uint64_t count;
    (void)!::read(fd_, &count, sizeof(count));  // non-blocking; a later Push wakes again
    std::vector<std::pair<int32_t, WireResponse>> answers;
    std::lock_guard<std::mutex> lock(mu_);
    answers.swap(answers_);
    return answers;
  }
  // The connection has ended: a request not yet started is not run, an
  // answer not yet taken is dropped.
  void Abandon() {
    std::lock_guard<std::mutex> lock(mu_);
    abandoned_ = true;
    for (auto& [id, response] : answers_)
      if (response.stream) response.stream->Cancel();
    answers_.clear();
  }
  bool abandoned() const { return abandoned_; }

 private:
  const int fd_;
  std::atomic<bool> abandoned_{false};
  std::mutex mu_;
  std::vector<std::pair<int32_t, WireResponse>> answers_;  // guarded by mu_
};

int MillisSince(std::chrono::steady_clock::time_point t) {
  using namespace std::chrono;
  return int(duration_cast<milliseconds>(steady_clock::now() - t).count());
}

}  // namespace

void ServeH2Connection(int fd, std::string_view received, std::string remote_addr,
                       const H2Limits& limits, const Responder& respond, WorkerPool& workers,
                       const std::function<bool()>& stopping) {
  auto answers = std::make_shared<AnswerQueue>();
  if (answers->fd() < 0) return;  // out of file descriptors: drop the connection
  struct AbandonOnExit {
    AnswerQueue& queue;
    ~AbandonOnExit() { queue.Abandon(); }
  } abandon_on_exit{*answers};

  H2Session h2(std::move(remote_addr), limits);
  bool healthy = h2.Receive(received);
  bool closing = false;           // GOAWAY sent: ends once the streams it kept are answered
  std::deque<H2Request> waiting;  // complete, held back while too many answers are unsent
  size_t working = 0;             // handed to the workers, not yet answered
  auto quiet_since = std::chrono::steady_clock::now();  // the last byte in or answer back
  std::string out;
  char buf[16 << 10];
  for (;;) {
    for (auto& [id, response] : answers->Take()) {
      if (response.stream)
        response.stream->SetWaker([queue = std::weak_ptr<AnswerQueue>(answers)] {
          if (auto q = queue.lock()) q->Poke();
        });
      h2.Answer(id, std::move(response));
      --working;
      quiet_since = std::chrono::steady_clock::now();
    }
    h2.ResumeStreamingAnswers();
    for (H2Request& request : h2.TakeRequests()) waiting.push_back(std::move(request));
    while (!waiting.empty() && h2.UnsentBytes() < limits.max_unsent_bytes) {
      auto job = std::make_shared<H2Request>(std::move(waiting.front()));
      waiting.pop_front();
      ++working;
      workers.Submit([job, answers, &respond] {
        if (answers->abandoned()) return;
        job->request.body = job->body;
        answers->Push(job->stream_id, respond(job->request));
      });
    }
    do {
      out.clear();
      if (!h2.Send(out) || !SendAll(fd, out, limits.io_timeout_ms)) return;
    } while (!out.empty());
    if (!healthy || !h2.Alive() || (closing && h2.OpenStreams() == 0)) return;
    if (!closing && stopping()) {  // checked on every turn: a busy peer must not delay it
      h2.Shutdown();
      closing = true;
      continue;
    }

    // Waits in slices of 100 ms, so that a stop is seen promptly.
    pollfd p[2] = {{fd, POLLIN, 0}, {answers->fd(), POLLIN, 0}};
    const int ready = ::poll(p, 2, 100);
    if (ready < 0 && errno != EINTR) return;
    if (ready > 0 && p[0].revents) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) return;
      healthy = h2.Receive(std::string_view(buf, size_t(n)));
      quiet_since = std::chrono::steady_clock::now();
      continue;
    }
    if (ready != 0) continue;  // answers back (taken above), or a signal
    // A request a worker is on is not a stall, however long it takes; nor
    // is a streamed answer waiting for its producer.
    if (working > 0 || h2.StreamingAnswers() > 0) continue;
    const int timeout = h2.OpenStreams() ? limits.io_timeout_ms : limits.idle_timeout_ms;
    if (MillisSince(quiet_since) < timeout) continue;
    if (closing) return;  // the peer left streams open after GOAWAY
    h2.Shutdown();        // idle, or stalled
    closing = true;
    quiet_since = std::chrono::steady_clock::now();
  }
}

}  // namespace kstream::serve
