// Enhanced fan-out in lib/serve: the event stream encoding against the
// published vectors, consumers (durable in the store, limits, statuses), and
// SubscribeToShard's event streams read straight from the Service on a real
// LocalStore with a controlled clock.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "core/text.h"
#include "fault_env.h"
#include "serve/body_stream.h"
#include "serve/event_stream.h"
#include "serve/http_server.h"
#include "serve/service.h"
#include "serve/wire.h"
#include "test_util.h"

using namespace kstream;
using serve::Value;

namespace {

std::string FromBase64(std::string_view text) {
  std::string out;
  REQUIRE(DecodeBase64(text, out));
  return out;
}

Value Json(std::string_view text) {
  auto v = serve::DecodeJson(text);
  REQUIRE_MESSAGE(v.ok(), v.status().message());
  return std::move(v).value();
}

// The official vectors of smithy-lang/smithy-typescript
// packages/eventstream-codec/test_vectors.
constexpr char kEmptyMessage[] = "AAAAEAAAAAAFwkjrfZjI/w==";
constexpr char kPayloadNoHeaders[] = "AAAAHQAAAAD9Uoxaeydmb28nOidiYXInfcNlOTY=";
constexpr char kPayloadOneStrHeader[] =
    "AAAAPQAAACAH/YOWDGNvbnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb257J2Zvbyc6J2Jhcid9jZwIsQ==";
constexpr char kAllHeaders[] =
    "AAAAzAAAAK8PrmTKCmV2ZW50LXR5cGUEAACgDAxjb250ZW50LXR5cGUHABBhcHBsaWNhdGlvbi9qc29uCmJvb2wgZmFsc2"
    "UBCWJvb2wgdHJ1ZQAEYnl0ZQLPCGJ5dGUgYnVmBgAUSSdtIGEgbGl0dGxlIHRlYXBvdCEJdGltZXN0YW1wCAAAAAAAhF/t"
    "BWludDE2AwAqBWludDY0BQAAAAACh1eyBHV1aWQJAQIDBAUGBwgJCgsMDQ4PEHsnZm9vJzonYmFyJ32rpfEM";
constexpr char kCorruptedHeaderLen[] =
    "AAAAPQAAACEH/YOWDGNvbnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb257J2Zvbyc6J2Jhcid9jZwIsQ==";
constexpr char kCorruptedHeaders[] =
    "AAAAPQAAACAH/YOWDGNvbnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb257YWZvbyc6J2Jhcid9jZwIsQ==";
constexpr char kCorruptedLength[] =
    "AAAAPgAAACAH/YOWDGNvbnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb257J2Zvbyc6J2Jhcid9jZwIsQ==";
constexpr char kCorruptedPayload[] = "AAAAHQAAAAD9UoxaWydmb28nOidiYXInfcNlOTY=";

// A Service on a fresh store whose clock the test moves.
struct Fixture {
  explicit Fixture(serve::ServiceOptions extra = {}) : options(WithClock(extra)) {}
  serve::ServiceOptions WithClock(serve::ServiceOptions o) {
    o.clock = [this] { return t.env.NowMillis(); };
    o.sync = SyncMode::kNever;
    return o;
  }
  kstest::TestStore t;
  serve::ServiceOptions options;
  std::unique_ptr<serve::Service> service = std::make_unique<serve::Service>(&t.store, options);

  serve::HttpReply Call(const std::string& op, const std::string& body, bool http2 = false) {
    return serve::HandleRequest(*service, "application/x-amz-json-1.1", "Kinesis_20131202." + op,
                                body, {}, http2);
  }
  Value Ok(const std::string& op, const std::string& body) {
    auto reply = Call(op, body);
    REQUIRE_MESSAGE(reply.status == 200, std::string(op + ": " + reply.body));
    return reply.body.empty() ? Value{} : Json(reply.body);
  }
  std::string Error(const std::string& op, const std::string& body) {
    auto reply = Call(op, body);
    REQUIRE_MESSAGE(reply.status != 200, std::string(op + " succeeded: " + reply.body));
    return reply.error_type;
  }
  std::string Register(const std::string& name) {
    return Ok("RegisterStreamConsumer",
              R"({"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s","ConsumerName":")" +
                  name + "\"}")
        .Find("Consumer")
        ->Find("ConsumerARN")
        ->text;
  }
  std::shared_ptr<serve::BodyStream> Subscribe(const std::string& body) {
    auto reply = Call("SubscribeToShard", body, true);
    REQUIRE_MESSAGE(reply.stream, reply.body);
    CHECK(reply.content_type == "application/vnd.amazon.eventstream");
    return reply.stream;
  }
};

std::string SubscribeBody(const std::string& arn, const std::string& shard,
                          const std::string& position) {
  return R"({"ConsumerARN":")" + arn + R"(","ShardId":")" + shard + R"(","StartingPosition":)" +
         position + "}";
}

// Reads a stream's messages until `count` arrived or it ended (bounded).
struct EventReader {
  explicit EventReader(std::shared_ptr<serve::BodyStream> b) : body(std::move(b)) {}
  std::shared_ptr<serve::BodyStream> body;
  std::string buffer;
  bool ended = false;
  std::vector<serve::EventMessage> messages;

  // Records in the SubscribeToShardEvents from message `from` on.
  size_t RecordsFrom(size_t from) const {
    size_t n = 0;
    for (size_t i = from; i < messages.size(); ++i)
      if (messages[i].Header(":event-type") == "SubscribeToShardEvent")
        n += Json(messages[i].payload).Find("Records")->items.size();
    return n;
  }
  void ReadUntil(size_t count) {
    for (int i = 0; i < 4000 && messages.size() < count && !ended; ++i) {
      char chunk[65536];
      const size_t n = body->Read(chunk, sizeof(chunk), &ended);
      buffer.append(chunk, n);
      for (;;) {
        auto m = serve::DecodeEventMessage(buffer);
        if (!m.ok()) break;  // not whole yet
        buffer.erase(0, m->size);
        messages.push_back(std::move(m).value());
      }
      if (n == 0 && !ended) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const bool done = messages.size() >= count || ended;
    REQUIRE_MESSAGE(done, "timed out reading events");
  }
};

void Put(Fixture& f, int count, const std::string& key, size_t size = 10) {
  for (int i = 0; i < count; ++i) {
    std::string data(size, char('a' + i % 26));
    std::string b64;
    AppendBase64(b64, data);
    f.Ok("PutRecord",
         R"({"StreamName":"s","PartitionKey":")" + key + R"(","Data":")" + b64 + "\"}");
  }
}

}  // namespace

TEST_SUITE("efo") {
  TEST_CASE("EventStreamEncoderMatchesThePublishedVectors") {
    CHECK(serve::EncodeEventMessage({{"content-type", "application/json"}}, "{'foo':'bar'}") ==
          FromBase64(kPayloadOneStrHeader));
    CHECK(serve::EncodeEventMessage({}, "") == FromBase64(kEmptyMessage));
    CHECK(serve::EncodeEventMessage({}, "{'foo':'bar'}") == FromBase64(kPayloadNoHeaders));

    auto all = serve::DecodeEventMessage(FromBase64(kAllHeaders));
    REQUIRE(all.ok());
    CHECK(all->payload == "{'foo':'bar'}");
    CHECK(all->Header("event-type") == "40972");
    CHECK(all->Header("content-type") == "application/json");
    CHECK(all->Header("bool false") == "false");
    CHECK(all->Header("bool true") == "true");
    CHECK(all->Header("byte") == "-49");
    CHECK(all->Header("byte buf") == "I'm a little teapot!");
    CHECK(all->Header("timestamp") == "8675309");
    CHECK(all->Header("int16") == "42");
    CHECK(all->Header("int64") == "42424242");
    CHECK(all->Header("uuid").size() == 16);
    CHECK(all->size == FromBase64(kAllHeaders).size());

    for (const char* bad :
         {kCorruptedHeaderLen, kCorruptedHeaders, kCorruptedLength, kCorruptedPayload})
      CHECK_FALSE(serve::DecodeEventMessage(FromBase64(bad)).ok());
    // Any cut of a good message is refused, never read past.
    const std::string good = FromBase64(kPayloadOneStrHeader);
    for (size_t n = 0; n < good.size(); ++n)
      CHECK_FALSE(serve::DecodeEventMessage(good.substr(0, n)).ok());
  }

  TEST_CASE("ConsumersAreDurableLimitedAndGoWithTheStream") {
    Fixture f;
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":1})");
    const std::string arn = f.Register("c0");
    CHECK(arn == "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c0:" +
                     std::to_string(f.t.env.NowMillis() / 1000));
    CHECK(f.Error("RegisterStreamConsumer",
                  R"({"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s",)"
                  R"("ConsumerName":"c0"})") == "ResourceInUseException");
    for (int i = 1; i < 20; ++i) f.Register("c" + std::to_string(i));
    CHECK(f.Error("RegisterStreamConsumer",
                  R"({"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s",)"
                  R"("ConsumerName":"c20"})") == "LimitExceededException");
    CHECK(f.Error("RegisterStreamConsumer",
                  R"({"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s",)"
                  R"("ConsumerName":"no/slash"})") == "ValidationException");
    CHECK(f.Error("RegisterStreamConsumer",
                  R"({"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/nope",)"
                  R"("ConsumerName":"x"})") == "ResourceNotFoundException");
    CHECK(f.Error("DescribeStreamConsumer", R"({"ConsumerARN":"arn:aws:kinesis:x"})") ==
          "ValidationException");
    CHECK(
        f.Error(
            "DescribeStreamConsumer",
            R"({"ConsumerARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c0:1"})") ==
        "ResourceNotFoundException");  // a creation time that is not c0's

    // A fresh server on the same store sees them all (they are in the store).
    f.service = std::make_unique<serve::Service>(&f.t.store, f.options);
    Value d = f.Ok("DescribeStreamConsumer", R"({"ConsumerARN":")" + arn + "\"}");
    CHECK(d.Find("ConsumerDescription")->Find("ConsumerStatus")->text == "ACTIVE");
    CHECK(d.Find("ConsumerDescription")->Find("StreamARN")->text ==
          "arn:aws:kinesis:us-east-1:000000000000:stream/s");
    CHECK(f.Ok("DescribeStreamSummary", R"({"StreamName":"s"})")
              .Find("StreamDescriptionSummary")
              ->Find("ConsumerCount")
              ->integer == 20);
    std::vector<std::string> names;
    std::string token;
    for (int page = 0; page < 10; ++page) {
      Value l = f.Ok("ListStreamConsumers",
                     R"({"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s",)" +
                         (token.empty() ? std::string(R"("MaxResults":7)")
                                        : R"("NextToken":")" + token + "\"") +
                         "}");
      for (const Value& c : l.Find("Consumers")->items)
        names.push_back(c.Find("ConsumerName")->text);
      const Value* next = l.Find("NextToken");
      if (!next) break;
      token = next->text;
    }
    CHECK(names.size() == 20);
    CHECK(std::is_sorted(names.begin(), names.end()));

    // Deregistered: DELETING for a moment, then gone, and the name is free again.
    f.Ok("DeregisterStreamConsumer", R"({"ConsumerARN":")" + arn + "\"}");
    CHECK(f.Ok("DescribeStreamConsumer", R"({"ConsumerARN":")" + arn + "\"}")
              .Find("ConsumerDescription")
              ->Find("ConsumerStatus")
              ->text == "DELETING");
    f.t.env.Advance(serve::kConsumerDeletingMs);
    CHECK(f.Error("DescribeStreamConsumer", R"({"ConsumerARN":")" + arn + "\"}") ==
          "ResourceNotFoundException");
    f.t.env.Advance(1000);
    const std::string again = f.Register("c0");
    CHECK(again != arn);  // a later creation time

    // The stream is not deleted under its consumers unless asked to be.
    CHECK(f.Error("DeleteStream", R"({"StreamName":"s"})") == "ResourceInUseException");
    f.Ok("DeleteStream", R"({"StreamName":"s","EnforceConsumerDeletion":true})");
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":1})");
    CHECK(f.Ok("ListStreamConsumers",
               R"({"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"})")
              .Find("Consumers")
              ->items.empty());
  }

  TEST_CASE("AFailedConsumerWriteLeavesTheStoredConsumersAsTheyWere") {
    // A fault at every write point of a registration and of a
    // deregistration in turn: the call fails with the service's 500, and a
    // fresh store sees the consumers as before (the metadata is replaced
    // atomically, never half written).
    for (kstest::Fault fault : {kstest::Fault::kIOError, kstest::Fault::kNoSpace}) {
      for (int64_t at = 0;; ++at) {
        Fixture f;
        f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":1})");
        const std::string arn = f.Register("kept");
        kstest::FaultPlanEnv env(at, fault);
        LocalStore faulty(&env, f.t.dir.path());
        serve::Service service(&faulty, f.options);
        auto call = [&](const std::string& op, const std::string& body) {
          return serve::HandleRequest(service, "application/x-amz-json-1.1",
                                      "Kinesis_20131202." + op, body);
        };
        auto added = call("RegisterStreamConsumer",
                          R"({"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s",)"
                          R"("ConsumerName":"added"})");
        auto removed = call("DeregisterStreamConsumer", R"({"ConsumerARN":")" + arn + "\"}");
        auto meta = LocalStore(Env::Default(), f.t.dir.path()).ListShards("s");
        REQUIRE_MESSAGE(meta.ok(), meta.status().message());
        std::map<std::string, bool> deleting;
        for (const auto& c : meta->consumers) deleting[c.name] = c.deleting_ms.has_value();
        CHECK(deleting.count("kept") == 1);
        CHECK(deleting.count("added") == (added.status == 200 ? 1u : 0u));
        CHECK(deleting["kept"] == (removed.status == 200));
        if (added.status != 200) CHECK(added.error_type == "InternalFailure");
        if (at == 0) CHECK(env.fired());  // the registration's first write failed
        if (!env.fired()) break;
        CHECK((added.status != 200 || removed.status != 200));
        CHECK(at < 100);  // bounded: each call has a few write points
      }
    }
  }

  TEST_CASE("SubscribeToShardStreamsEventsAndOneSubscriptionTakesOverAnother") {
    Fixture f;
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":1})");
    Put(f, 3, "k");
    const std::string arn = f.Register("app");
    // Over HTTP/1.1 there is no event stream: a clear error.
    auto http1 = f.Call("SubscribeToShard",
                        SubscribeBody(arn, "shardId-000000000000", R"({"Type":"LATEST"})"));
    CHECK(http1.status == 400);
    CHECK(http1.error_type == "InvalidArgumentException");

    EventReader first{
        f.Subscribe(SubscribeBody(arn, "shardId-000000000000", R"({"Type":"TRIM_HORIZON"})"))};
    first.ReadUntil(2);
    REQUIRE(first.messages.size() >= 2);
    CHECK(first.messages[0].Header(":message-type") == "event");
    CHECK(first.messages[0].Header(":event-type") == "initial-response");
    CHECK(first.messages[0].payload == "{}");
    CHECK(first.messages[1].Header(":event-type") == "SubscribeToShardEvent");
    Value event = Json(first.messages[1].payload);
    REQUIRE(event.Find("Records")->items.size() == 3);
    const std::string last_seq = event.Find("Records")->items[2].Find("SequenceNumber")->text;
    CHECK(event.Find("ContinuationSequenceNumber")->text == last_seq);
    CHECK(event.Find("MillisBehindLatest")->integer == 0);

    // Put while subscribed: pushed as it arrives.
    Put(f, 2, "k");
    for (size_t want = 3; first.RecordsFrom(2) < 2 && want < 10; ++want) first.ReadUntil(want);
    CHECK(first.RecordsFrom(2) == 2);

    // A second subscription within 5 s is refused; after, it takes over and
    // the first ends with a ResourceInUseException event.
    const std::string again = SubscribeBody(arn, "shardId-000000000000",
                                            R"({"Type":"AFTER_SEQUENCE_NUMBER",)"
                                            R"("SequenceNumber":")" +
                                                last_seq + "\"}");
    CHECK(f.Call("SubscribeToShard", again, true).error_type == "ResourceInUseException");
    f.t.env.Advance(5000);
    EventReader second{f.Subscribe(again)};
    first.ReadUntil(100);
    CHECK(first.ended);
    CHECK(first.messages.back().Header(":message-type") == "exception");
    CHECK(first.messages.back().Header(":exception-type") == "ResourceInUseException");
    second.ReadUntil(2);
    REQUIRE(second.messages.size() >= 2);
    CHECK(second.RecordsFrom(1) == 2);  // resumed after the first three

    // Deregistering the consumer ends its subscriptions.
    f.Ok("DeregisterStreamConsumer", R"({"ConsumerARN":")" + arn + "\"}");
    second.ReadUntil(100);
    CHECK(second.ended);
    CHECK(second.messages.back().Header(":exception-type") == "ResourceNotFoundException");
  }

  TEST_CASE("SubscriptionsEndCleanlyAtTheirLifetimeAndAreRateLimited") {
    serve::ServiceOptions options;
    options.subscription_ms = 300;
    options.subscription_bytes_per_second = 1000;
    Fixture f(options);
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":1})");
    Put(f, 5, "k", 600);
    const std::string arn = f.Register("app");
    EventReader r{
        f.Subscribe(SubscribeBody(arn, "shardId-000000000000", R"({"Type":"TRIM_HORIZON"})"))};
    r.ReadUntil(2);
    REQUIRE(r.messages.size() >= 2);
    // 3,000 bytes at 1,000 bytes/s cannot go out in the first event.
    const size_t first = Json(r.messages[1].payload).Find("Records")->items.size();
    CHECK(first >= 1);
    CHECK(first < 5);
    CHECK(Json(r.messages[1].payload).Find("MillisBehindLatest") != nullptr);
    r.ReadUntil(1000);
    CHECK(r.ended);                                               // the lifetime ended it
    CHECK(r.messages.back().Header(":message-type") == "event");  // cleanly, no exception

    // After EndSubscriptions (the server stops), every stream ends and new
    // subscriptions are refused.
    f.options.subscription_ms = 60000;
    f.service = std::make_unique<serve::Service>(&f.t.store, f.options);
    EventReader open{
        f.Subscribe(SubscribeBody(arn, "shardId-000000000000", R"({"Type":"LATEST"})"))};
    open.ReadUntil(2);
    f.service->EndSubscriptions();
    open.ReadUntil(1000);
    CHECK(open.ended);
    CHECK(open.messages.back().Header(":message-type") == "event");
    CHECK(f.Call("SubscribeToShard",
                 SubscribeBody(arn, "shardId-000000000000", R"({"Type":"LATEST"})"), true)
              .status == 500);
  }

  TEST_CASE("SubscribeToShardRefusesBadRequestsWithTheServicesErrors") {
    Fixture f;
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":1})");
    const std::string arn = f.Register("app");
    auto error = [&](const std::string& body) {
      return f.Call("SubscribeToShard", body, true).error_type;
    };
    CHECK(error(SubscribeBody(arn, "shardId-000000000009", R"({"Type":"LATEST"})")) ==
          "ResourceNotFoundException");
    CHECK(error(SubscribeBody(arn + "0", "shardId-000000000000", R"({"Type":"LATEST"})")) ==
          "ResourceNotFoundException");
    CHECK(error(SubscribeBody("arn:nope", "shardId-000000000000", R"({"Type":"LATEST"})")) ==
          "ValidationException");
    CHECK(error(SubscribeBody(arn, "shardId-000000000000", R"({"Type":"SOMETIME"})")) ==
          "ValidationException");
    CHECK(error(SubscribeBody(arn, "shardId-000000000000", R"({"Type":"AT_SEQUENCE_NUMBER"})")) ==
          "InvalidArgumentException");
    CHECK(error(R"({"ConsumerARN":")" + arn + R"(","ShardId":"shardId-000000000000"})") ==
          "ValidationException");
    CHECK(error(R"({"ConsumerARN":5})") == "SerializationException");
  }
}
