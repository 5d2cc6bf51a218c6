// serve/h2c: H2Session fed the bytes real HTTP/2 clients send, without a
// socket: requests reach the Responder with their pseudo-headers and body,
// answers go out as frames, limits and broken input end as the protocol says.
#include <doctest/doctest.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "serve/h2c.h"
#include "serve/worker_pool.h"
#include "test_util.h"

using namespace kstream::serve;

namespace {

using kstest::FromHex;

// What curl 7.88 sent after the preface for
// `curl --http2-prior-knowledge -H 'Content-Type: application/x-amz-json-1.1'
//  -H 'X-Amz-Target: Kinesis_20131202.ListStreams' -d '{"Limit":5}'`:
// (to port 34659): SETTINGS, WINDOW_UPDATE, HEADERS (stream 1), DATA with
// END_STREAM.
const std::string kCurlPost = FromHex(
    "00001204000000000000030000006400040200000000020000000000000408000000000001ff0001000058010400"
    "000001838486418b089d5c0b8170dc65a71b7f7a8825b650c3abbcf2e153032a2f2a5f931d75d0620d263d4c7958"
    "74fb5ba20f52c15c3f4089f2b0e9f6b24764c54f93cc6a8a832221002c844012f9cc84ee4d851d280f0d02313100"
    "000b0001000000017b224c696d6974223a357d");

struct Frame {
  int type;
  int flags;
  int stream;
  std::string payload;
};

std::vector<Frame> Frames(const std::string& out) {
  std::vector<Frame> frames;
  for (size_t at = 0; at + 9 <= out.size();) {
    const auto b = [&](size_t i) { return size_t(uint8_t(out[at + i])); };
    const size_t length = b(0) << 16 | b(1) << 8 | b(2);
    frames.push_back({int(b(3)), int(b(4)),
                      int((b(5) & 0x7f) << 24 | b(6) << 16 | b(7) << 8 | b(8)),
                      out.substr(at + 9, length)});
    at += 9 + length;
  }
  return frames;
}

constexpr int kData = 0, kHeaders = 1, kGoaway = 7;

// Answers every request the session has completed, at once and in order
// (as a server with one thread per connection would).
void AnswerAll(H2Session& session, const Responder& respond) {
  for (H2Request& r : session.TakeRequests()) {
    r.request.body = r.body;
    session.Answer(r.stream_id, respond(r.request));
  }
}

// An HTTP/2 client made with libnghttp2's client side: requests out as
// bytes, answers in, per stream.
class H2Client {
 public:
  struct Answer {
    int status = 0;
    std::string body;
    bool closed = false;
    uint32_t error = 0;  // RST_STREAM code, if reset
  };

  H2Client() {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, OnClose);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, OnFrame);
    nghttp2_session_client_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2Client() { nghttp2_session_del(session_); }

  // A POST of `body` with X-Amz-Target `target`; returns its stream id.
  int32_t Post(const std::string& target, std::string body) {
    bodies_.push_back({std::move(body), 0});
    const std::string names[] = {":method", ":scheme", ":authority", ":path", "x-amz-target"};
    const std::string values[] = {"POST", "http", "127.0.0.1", "/", target};
    std::vector<nghttp2_nv> nva;
    for (int i = 0; i < 5; ++i)
      nva.push_back({(uint8_t*)names[i].data(), (uint8_t*)values[i].data(), names[i].size(),
                     values[i].size(), NGHTTP2_NV_FLAG_NONE});
    nghttp2_data_provider data{};
    data.source.ptr = &bodies_.back();
    data.read_callback = ReadBody;
    const int32_t id =
        nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &data, nullptr);
    REQUIRE(id > 0);
    return id;
  }
  void Reset(int32_t id) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }
  std::string Output() {
    std::string out;
    const uint8_t* data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &data)) > 0) out.append((const char*)data, n);
    REQUIRE(n == 0);
    return out;
  }
  void Input(std::string_view bytes) {
    REQUIRE(nghttp2_session_mem_recv(session_, (const uint8_t*)bytes.data(), bytes.size()) ==
            ssize_t(bytes.size()));
  }

  std::map<int32_t, Answer> answers;
  int32_t goaway_last_stream = -1;

 private:
  struct Body {
    std::string bytes;
    size_t sent;
  };
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void*) {
    auto* body = static_cast<Body*>(source->ptr);
    const size_t n = std::min(length, body->bytes.size() - body->sent);
    std::copy_n(body->bytes.data() + body->sent, n, buf);
    body->sent += n;
    if (body->sent == body->bytes.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return ssize_t(n);
  }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* self) {
    if (std::string_view((const char*)name, namelen) == ":status")
      static_cast<H2Client*>(self)->answers[frame->hd.stream_id].status =
          std::stoi(std::string((const char*)value, valuelen));
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* self) {
    static_cast<H2Client*>(self)->answers[id].body.append((const char*)data, len);
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t id, uint32_t error, void* self) {
    auto& answer = static_cast<H2Client*>(self)->answers[id];
    answer.closed = true;
    answer.error = error;
    return 0;
  }
  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    if (frame->hd.type == NGHTTP2_GOAWAY)
      static_cast<H2Client*>(self)->goaway_last_stream = frame->goaway.last_stream_id;
    return 0;
  }

  nghttp2_session* session_ = nullptr;
  std::deque<Body> bodies_;  // stable addresses for the data providers
};

// Moves bytes both ways until neither side has anything to say.
void Exchange(H2Client& client, H2Session& server) {
  for (int round = 0; round < 1000; ++round) {
    const std::string up = client.Output();
    if (!up.empty()) REQUIRE(server.Receive(up));
    std::string down;
    REQUIRE(server.Send(down));
    if (!down.empty()) client.Input(down);
    if (up.empty() && down.empty()) return;
  }
  FAIL("the exchange did not settle");
}

// Exchanges, then the requests the session has completed.
std::vector<H2Request> Deliver(H2Client& client, H2Session& session) {
  Exchange(client, session);
  return session.TakeRequests();
}

WireResponse Reply(std::string body) {
  return WireResponse{200, {{"Content-Type", "application/x-amz-json-1.1"}}, std::move(body)};
}

}  // namespace

TEST_CASE("RequestOfARealClientReachesTheResponderAndIsAnswered") {
  std::vector<WireRequest> seen;
  std::vector<std::string> bodies;
  const Responder respond = [&](const WireRequest& req) {
    seen.push_back(req);
    bodies.emplace_back(req.body);
    return WireResponse{200, {{"Content-Type", "application/x-amz-json-1.1"}}, R"({"ok":1})"};
  };
  H2Session session("10.0.0.7", H2Limits{});
  REQUIRE(session.Receive(std::string(kH2Preface) + kCurlPost));
  AnswerAll(session, respond);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == "/");
  CHECK(seen[0].remote_addr == "10.0.0.7");
  CHECK(seen[0].Header(":authority") == "127.0.0.1:34659");
  CHECK(seen[0].Header("X-Amz-Target") == "Kinesis_20131202.ListStreams");
  CHECK(bodies[0] == R"({"Limit":5})");
  std::string out;
  REQUIRE(session.Send(out));
  bool headers = false, data = false;
  for (const Frame& f : Frames(out)) {
    headers |= f.type == kHeaders && f.stream == 1;
    if (f.type == kData && f.stream == 1) {
      data = true;
      CHECK(f.payload == R"({"ok":1})");
      CHECK((f.flags & 1) == 1);  // END_STREAM
    }
  }
  CHECK(headers);
  CHECK(data);
}

TEST_CASE("BodyPastTheLimitIsAnswered413WithoutReachingTheResponder") {
  int calls = 0;
  const Responder respond = [&](const WireRequest&) {
    ++calls;
    return WireResponse{};
  };
  H2Limits limits;
  limits.max_body_bytes = 5;  // the 11-byte body of kCurlPost is too large
  H2Session session("127.0.0.1", limits);
  REQUIRE(session.Receive(std::string(kH2Preface) + kCurlPost));
  CHECK(session.TakeRequests().empty());  // answered 413 by the session itself
  CHECK(calls == 0);
  std::string out;
  REQUIRE(session.Send(out));
  bool answered = false;
  for (const Frame& f : Frames(out)) answered |= f.type == kHeaders && f.stream == 1;
  CHECK(answered);
}

TEST_CASE("GarbageAfterThePrefaceEndsTheConnectionWithGoaway") {
  for (const std::string& garbage :
       {FromHex("ffffff01ff7fffffff") + std::string(32, '\xab'),            // a 16 MiB frame
        FromHex("000000040000000000") + FromHex("000002010500000001ffff"),  // bad HPACK
        std::string("GET / HTTP/1.1\r\n\r\n")}) {
    H2Session session("127.0.0.1", H2Limits{});
    (void)session.Receive(std::string(kH2Preface) + garbage);  // false, or a GOAWAY queued
    std::string out;
    REQUIRE(session.Send(out));
    bool goaway = false;
    for (const Frame& f : Frames(out)) goaway |= f.type == kGoaway;
    CHECK(goaway);
  }
}

TEST_CASE("RequestsAnsweredOutOfOrderReachTheirOwnStreams") {
  H2Client client;
  std::vector<int32_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(client.Post("T", "request " + std::to_string(i)));
  H2Session session("127.0.0.1", H2Limits{});
  std::vector<H2Request> requests = Deliver(client, session);
  REQUIRE(requests.size() == 5);
  CHECK(session.OpenStreams() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(requests[i].stream_id == ids[i]);
    CHECK(requests[i].body == "request " + std::to_string(i));
    CHECK(requests[i].request.Header("x-amz-target") == "T");
  }
  // Answered last to first, each between exchanges: every answer lands on
  // the stream of its request, whatever the order.
  for (int i = 4; i >= 0; --i) {
    session.Answer(requests[i].stream_id, Reply("answer to " + requests[i].body));
    Exchange(client, session);
    CHECK(client.answers[ids[i]].closed);
    if (i > 0) CHECK_FALSE(client.answers[ids[i - 1]].closed);
  }
  for (int i = 0; i < 5; ++i) {
    CHECK(client.answers[ids[i]].status == 200);
    CHECK(client.answers[ids[i]].body == "answer to request " + std::to_string(i));
  }
  CHECK(session.OpenStreams() == 0);
  CHECK(session.UnsentBytes() == 0);
}

TEST_CASE("AnAnswerToAStreamTheClientResetMeanwhileIsDropped") {
  H2Client client;
  const int32_t gone = client.Post("T", "a"), kept = client.Post("T", "b");
  H2Session session("127.0.0.1", H2Limits{});
  std::vector<H2Request> requests = Deliver(client, session);
  REQUIRE(requests.size() == 2);
  client.Reset(gone);
  Exchange(client, session);
  CHECK(session.OpenStreams() == 1);
  session.Answer(gone, Reply(std::string(100000, 'x')));  // nobody to take it
  session.Answer(kept, Reply("b"));
  session.Answer(kept, Reply("twice"));  // a second answer is ignored
  Exchange(client, session);
  CHECK(client.answers[gone].error == NGHTTP2_CANCEL);
  CHECK(client.answers[gone].body.empty());
  CHECK(client.answers[kept].body == "b");
  CHECK(session.OpenStreams() == 0);
  CHECK(session.UnsentBytes() == 0);
  CHECK(session.Alive());
}

TEST_CASE("AnAnswerLargerThanThePeersWindowWaitsAsUnsentBytes") {
  H2Client client;  // nghttp2's default windows: 64 KiB per stream and connection
  const int32_t id = client.Post("T", "{}");
  H2Session session("127.0.0.1", H2Limits{});
  std::vector<H2Request> requests = Deliver(client, session);
  REQUIRE(requests.size() == 1);
  std::string big(1 << 20, 0);
  for (size_t i = 0; i < big.size(); ++i) big[i] = char(i * 7 + i / 251);
  session.Answer(id, Reply(big));
  CHECK(session.UnsentBytes() == big.size());
  std::string down;
  REQUIRE(session.Send(down));
  REQUIRE(session.Send(down));
  CHECK(session.UnsentBytes() >= big.size() - 65535);  // no more than the window went out
  client.Input(down);
  Exchange(client, session);  // the client's WINDOW_UPDATEs let the rest go
  CHECK(client.answers[id].body == big);
  CHECK(session.UnsentBytes() == 0);
}

TEST_CASE("ShutdownRefusesLaterStreamsAndStillAnswersTheOnesReceived") {
  H2Client client;
  const int32_t first = client.Post("T", "1"), second = client.Post("T", "2");
  H2Session session("127.0.0.1", H2Limits{});
  std::vector<H2Request> requests = Deliver(client, session);
  REQUIRE(requests.size() == 2);
  session.Shutdown();
  std::string down;
  REQUIRE(session.Send(down));
  const int32_t late = client.Post("T", "3");  // sent before the client saw the GOAWAY
  REQUIRE(session.Receive(client.Output()));
  client.Input(down);
  CHECK(client.goaway_last_stream == second);
  CHECK(late > client.goaway_last_stream);  // the client knows it may retry this one
  CHECK(session.TakeRequests().empty());
  session.Answer(second, Reply("two"));
  session.Answer(first, Reply("one"));
  Exchange(client, session);
  CHECK(client.answers[first].body == "one");
  CHECK(client.answers[second].body == "two");
  CHECK(client.answers[late].status == 0);
  CHECK(session.OpenStreams() == 0);
}

namespace {

// Blocks the requests whose X-Amz-Target is "slow" until Release().
class Gate {
 public:
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  // Opens the gate when it goes out of scope: declared after the server, a
  // failed check does not leave its workers waiting forever.
  struct OpenOnExit {
    Gate& gate;
    ~OpenOnExit() { gate.Release(); }
  };

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// ServeH2Connection on one end of a socket pair, on a thread of its own,
// and an H2Client on the other end.
class ServedConnection {
 public:
  ServedConnection(const Responder& respond, size_t workers) : workers_(workers) {
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_) == 0);
    fd_ = fds_[1];
    server_ = std::thread([this, &respond] {
      ServeH2Connection(fds_[0], "", "local", H2Limits{}, respond, workers_,
                        [this] { return stopping.load(); });
    });
  }
  ~ServedConnection() {
    ::shutdown(fd_, SHUT_RDWR);
    if (server_.joinable()) server_.join();
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  // Waits until the server has ended the connection by itself.
  void JoinServer() { server_.join(); }
  ServedConnection(const ServedConnection&) = delete;
  ServedConnection& operator=(const ServedConnection&) = delete;
  void Flush() {
    const std::string out = client.Output();
    REQUIRE(::send(fd_, out.data(), out.size(), MSG_NOSIGNAL) == ssize_t(out.size()));
  }
  // Reads until `done()`, failing after 20 s of nothing (a hang, not a timing check).
  template <typename Done>
  void ReadUntil(Done done) {
    char buf[16 << 10];
    while (!done()) {
      pollfd p{fd_, POLLIN, 0};
      REQUIRE(::poll(&p, 1, 20000) == 1);
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      REQUIRE(n > 0);
      client.Input(std::string_view(buf, size_t(n)));
      Flush();  // SETTINGS acks, WINDOW_UPDATEs
    }
  }
  H2Client client;
  std::atomic<bool> stopping{false};

 private:
  int fds_[2];
  int fd_;
  WorkerPool workers_;
  std::thread server_;
};

}  // namespace

TEST_CASE("AConnectionAnswersAQuickStreamWhileASlowOneIsStillRunning") {
  Gate gate;
  std::atomic<int> calls{0};
  const Responder respond = [&](const WireRequest& req) {
    ++calls;
    if (req.Header("x-amz-target") == "slow") gate.Wait();
    return Reply(std::string(req.Header("x-amz-target")) + ":" + std::string(req.body));
  };
  ServedConnection c(respond, 4);
  Gate::OpenOnExit open_on_exit{gate};
  const int32_t slow = c.client.Post("slow", "s");
  const int32_t quick = c.client.Post("quick", "q");
  c.Flush();
  c.ReadUntil([&] { return c.client.answers[quick].closed; });
  CHECK(c.client.answers[quick].body == "quick:q");
  CHECK_FALSE(c.client.answers[slow].closed);  // still held by the gate
  gate.Release();
  c.ReadUntil([&] { return c.client.answers[slow].closed; });
  CHECK(c.client.answers[slow].body == "slow:s");
  CHECK(calls == 2);
}

TEST_CASE("AStopSendsGoawayAndAnswersTheStreamsInFlightBeforeClosing") {
  Gate gate;
  std::atomic<int> started{0};
  const Responder respond = [&](const WireRequest& req) {
    ++started;
    gate.Wait();
    return Reply(std::string(req.body));
  };
  ServedConnection c(respond, 2);  // fewer workers than streams: some wait for one
  Gate::OpenOnExit open_on_exit{gate};
  std::vector<int32_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(c.client.Post("T", "body " + std::to_string(i)));
  c.Flush();
  for (int i = 0; i < 20000 && started < 2; ++i)  // both workers held by the gate
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  REQUIRE(started == 2);
  c.stopping = true;
  c.ReadUntil([&] { return c.client.goaway_last_stream >= 0; });
  CHECK(c.client.goaway_last_stream >= ids[1]);  // (all five, unless they came in pieces)
  gate.Release();
  c.ReadUntil([&] {
    for (int32_t id : ids)
      if (!c.client.answers[id].closed) return false;
    return true;
  });
  // Each stream is answered, or above the GOAWAY's last stream id (refused:
  // the client may retry it).
  for (int i = 0; i < 5; ++i) {
    if (ids[i] <= c.client.goaway_last_stream)
      CHECK(c.client.answers[ids[i]].body == "body " + std::to_string(i));
    else
      CHECK(c.client.answers[ids[i]].status == 0);
  }
  c.JoinServer();  // ends by itself once every stream it kept is answered
}
