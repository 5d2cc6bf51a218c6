// serve/h2c: H2Session fed the bytes real HTTP/2 clients send, without a
// socket: requests reach the Responder with their pseudo-headers and body,
// answers go out as frames, limits and broken input end as the protocol says.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "serve/h2c.h"
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

}  // namespace

TEST_CASE("RequestOfARealClientReachesTheResponderAndIsAnswered") {
  std::vector<WireRequest> seen;
  std::vector<std::string> bodies;
  const Responder respond = [&](const WireRequest& req) {
    seen.push_back(req);
    bodies.emplace_back(req.body);
    return WireResponse{200, {{"Content-Type", "application/x-amz-json-1.1"}}, R"({"ok":1})"};
  };
  H2Session session("10.0.0.7", H2Limits{}, respond);
  REQUIRE(session.Receive(std::string(kH2Preface) + kCurlPost));
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
  H2Session session("127.0.0.1", limits, respond);
  REQUIRE(session.Receive(std::string(kH2Preface) + kCurlPost));
  CHECK(calls == 0);
  std::string out;
  REQUIRE(session.Send(out));
  bool answered = false;
  for (const Frame& f : Frames(out)) answered |= f.type == kHeaders && f.stream == 1;
  CHECK(answered);
}

TEST_CASE("GarbageAfterThePrefaceEndsTheConnectionWithGoaway") {
  const Responder respond = [](const WireRequest&) { return WireResponse{}; };
  for (const std::string& garbage :
       {FromHex("ffffff01ff7fffffff") + std::string(32, '\xab'),            // a 16 MiB frame
        FromHex("000000040000000000") + FromHex("000002010500000001ffff"),  // bad HPACK
        std::string("GET / HTTP/1.1\r\n\r\n")}) {
    H2Session session("127.0.0.1", H2Limits{}, respond);
    (void)session.Receive(std::string(kH2Preface) + garbage);  // false, or a GOAWAY queued
    std::string out;
    REQUIRE(session.Send(out));
    bool goaway = false;
    for (const Frame& f : Frames(out)) goaway |= f.type == kGoaway;
    CHECK(goaway);
  }
}
