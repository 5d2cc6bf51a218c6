// kstream-serve's HTTP/2 side (H2Session over libnghttp2) on untrusted
// bytes: the preface, then frames from the input, fed in pieces whose size
// byte 0 picks. Requests are answered out of order and late, as the
// workers of a connection finish them: byte 0 also picks how many wait a
// piece more, and the rest are answered after a shutdown. The session never
// crashes; what it sends is whole frames (a 9-byte header, then the length
// it states, at most the default 16 KiB); a request it hands out has
// :method and :path, and a body within the limit.
#include <stdint.h>

#include <string>
#include <vector>

#include "fuzz_util.h"
#include "serve/h2c.h"

using namespace kstream::serve;

namespace {

void CheckFrames(const std::string& out) {
  size_t at = 0;
  while (at + 9 <= out.size()) {
    const size_t length = (size_t(uint8_t(out[at])) << 16) | (size_t(uint8_t(out[at + 1])) << 8) |
                          size_t(uint8_t(out[at + 2]));
    FUZZ_CHECK(length <= 16384);
    at += 9 + length;
  }
  FUZZ_CHECK(at == out.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = size_t(data[0]) + 1;
  const size_t held = data[0] % 4;  // requests left unanswered for a piece
  const std::string_view frames(reinterpret_cast<const char*>(data) + 1, size - 1);
  H2Limits limits;
  limits.max_body_bytes = 1024;  // small, so the 413 and refusal paths are reached
  limits.max_buffered_bytes = 4096;
  limits.max_streams = 8;
  const Responder respond = [](const WireRequest& req) {
    FUZZ_CHECK(!req.method.empty() && !req.target.empty());
    FUZZ_CHECK(req.body.size() <= 1024);
    return WireResponse{200,
                        {{"Content-Type", "application/x-amz-json-1.1"}},
                        std::string(req.body.size() % 40000, 'x')};
  };
  H2Session session("127.0.0.1", limits);
  std::vector<H2Request> waiting;
  // Answers all but the newest `keep` waiting requests, newest first.
  const auto answer = [&](size_t keep) {
    while (waiting.size() > keep) {
      H2Request r = std::move(waiting[waiting.size() - 1 - keep]);
      waiting.erase(waiting.end() - 1 - std::ptrdiff_t(keep));
      r.request.body = r.body;
      session.Answer(r.stream_id, respond(r.request));
    }
  };
  bool healthy = session.Receive(kH2Preface);
  std::string out;
  for (size_t at = 0; healthy && at < frames.size(); at += piece) {
    healthy = session.Receive(frames.substr(at, piece));
    for (H2Request& r : session.TakeRequests()) waiting.push_back(std::move(r));
    answer(held);
    FUZZ_CHECK(session.Send(out));
    CheckFrames(out);
    out.clear();
  }
  session.Shutdown();
  answer(0);
  for (int i = 0; i < 64 && session.WantsWrite(); ++i) {
    if (!session.Send(out)) break;
    CheckFrames(out);
    out.clear();
  }
  return 0;
}
