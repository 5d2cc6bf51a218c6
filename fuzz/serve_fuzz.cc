// kstream-serve's request handling on untrusted bytes: a body in JSON or
// CBOR for any operation, run against a real store. Byte 0 picks the
// operation (low 6 bits, in Service::Operations() order), the encoding (bit
// 7) and the protocol (bit 6: HTTP/2, where SubscribeToShard answers with
// an event stream, cancelled at once); the rest is the body. Every reply is a status
// the service uses with a body that decodes in the request's encoding, and
// an error reply names its __type. The store stays small (KeepStoreSmall).
#include <stdint.h>

#include <memory>
#include <string>

#include "fuzz_util.h"
#include "serve/body_stream.h"
#include "serve/http_server.h"
#include "serve/service.h"
#include "serve/wire.h"
#include "store/local_store.h"

using namespace kstream;
using namespace kstream::serve;

namespace {

// The store lives across inputs, so it is kept small: few open shards (the
// service refuses more, as Kinesis does past its shard quota), and a stream
// whose reshards piled up closed shards (kept for the retention period, as
// in Kinesis) is dropped now and then. Without this, every request parsed
// metadata of thousands of shards after a few minutes.
constexpr int64_t kShardLimit = 64;
constexpr size_t kMaxShardsKept = 64;

void KeepStoreSmall(LocalStore& store) {
  static uint64_t calls = 0;
  if (calls++ % 64 != 0) return;
  auto names = store.ListStreams();
  if (!names.ok()) return;
  for (const auto& name : *names) {
    auto meta = store.ListShards(name);
    if (meta.ok() && meta->shards.size() > kMaxShardsKept) (void)store.DeleteStream(name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static LocalStore store(Env::Default(), fuzz::ScratchDir() + "/store");
  static Service service(&store, [] {
    ServiceOptions o;
    o.shard_limit = kShardLimit;
    o.subscription_ms = 100;  // a subscription's thread ends soon whatever happens
    return o;
  }());
  static const std::vector<std::string_view> operations = Service::Operations();
  KeepStoreSmall(store);
  // A stream for the requests to find (a DeleteStream may have removed it).
  if (!store.ListShards("s").ok()) (void)store.CreateStream("s", 2, 24);

  const bool cbor = data[0] & 0x80;
  const bool http2 = data[0] & 0x40;
  const size_t op = data[0] & 0x3f;
  const std::string target =
      "Kinesis_20131202." + std::string(op < operations.size() ? operations[op] : "NoSuchOp");
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string content_type =
      cbor ? "application/x-amz-cbor-1.1" : "application/x-amz-json-1.1";

  const HttpReply reply = HandleRequest(service, content_type, target, body, {}, http2);
  FUZZ_CHECK(reply.status == 200 || (reply.status >= 400 && reply.status < 600));
  if (reply.stream) {
    FUZZ_CHECK(http2 && reply.status == 200 && reply.body.empty());
    reply.stream->Cancel();  // the reader goes away: its thread ends
    return 0;
  }
  if (reply.status != 200) FUZZ_CHECK(!reply.error_type.empty());
  if (!reply.body.empty()) {
    auto decoded = cbor ? DecodeCbor(reply.body) : DecodeJson(reply.body);
    FUZZ_CHECK(decoded.ok());
  }
  return 0;
}
