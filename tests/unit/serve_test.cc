// lib/serve: the wire encodings, request checks, tokens, throttling, and the
// service's operations through HandleRequest on a real LocalStore with a
// controlled clock.
#include <doctest/doctest.h>

#include <string>

#include "aws/sigv4.h"
#include "core/text.h"
#include "serve/auth.h"
#include "serve/http_server.h"
#include "serve/request.h"
#include "serve/service.h"
#include "serve/throttle.h"
#include "serve/tokens.h"
#include "serve/wire.h"
#include "test_util.h"

using namespace kstream;
using serve::Encoding;
using serve::Value;

namespace {

Value Json(std::string_view text) {
  auto v = serve::DecodeJson(text);
  REQUIRE_MESSAGE(v.ok(), v.status().message());
  return std::move(v).value();
}

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += char(b);
  return s;
}

// A Service on a fresh store whose clock the test moves.
struct Fixture {
  explicit Fixture(int64_t shard_limit = serve::ServiceOptions{}.shard_limit)
      : shard_limit(shard_limit) {}
  int64_t shard_limit;
  kstest::TestStore t;
  serve::Service service{&t.store, Options()};
  serve::ServiceOptions Options() {
    serve::ServiceOptions o;
    o.clock = [this] { return t.env.NowMillis(); };
    o.sync = SyncMode::kNever;
    o.shard_limit = shard_limit;
    return o;
  }
  // Runs op with a JSON body; returns the reply (body parsed into *doc).
  serve::HttpReply Call(const std::string& op, const std::string& body, Value* doc = nullptr) {
    auto reply =
        serve::HandleRequest(service, "application/x-amz-json-1.1", "Kinesis_20131202." + op, body);
    if (doc) *doc = Json(reply.body);
    return reply;
  }
  Value Ok(const std::string& op, const std::string& body) {
    Value doc;
    auto reply = Call(op, body, &doc);
    REQUIRE_MESSAGE(reply.status == 200, std::string(op + ": " + reply.body));
    return doc;
  }
  std::string Error(const std::string& op, const std::string& body) {
    auto reply = Call(op, body);
    REQUIRE_MESSAGE(reply.status != 200, std::string(op + " succeeded: " + reply.body));
    CHECK(Json(reply.body).Find("__type")->text == reply.error_type);
    return reply.error_type;
  }
  std::string Iterator(const std::string& shard, const std::string& type,
                       const std::string& extra = "") {
    return Ok("GetShardIterator", R"({"StreamName":"s","ShardId":")" + shard +
                                      R"(","ShardIteratorType":")" + type + "\"" + extra + "}")
        .Find("ShardIterator")
        ->text;
  }
  Value Records(const std::string& iterator, int limit = 10000) {
    return Ok("GetRecords",
              R"({"ShardIterator":")" + iterator + R"(","Limit":)" + std::to_string(limit) + "}");
  }
};

}  // namespace

TEST_SUITE("serve") {
  TEST_CASE("JsonDecodesIntoValues") {
    Value v = Json(R"({"a":"x","n":5,"d":1.5,"b":true,"z":null,"l":[1,"2"],"o":{"k":"v"}})");
    CHECK(v.kind == Value::Kind::kObject);
    CHECK(v.Find("a")->text == "x");
    CHECK(v.Find("n")->integer == 5);
    CHECK(v.Find("d")->number == 1.5);
    CHECK(v.Find("b")->boolean);
    CHECK(v.Find("z")->kind == Value::Kind::kNull);
    CHECK(v.Find("l")->items.size() == 2);
    CHECK(v.Find("o")->Find("k")->text == "v");
    CHECK(v.Find("missing") == nullptr);
    CHECK(Json("").kind == Value::Kind::kObject);
    CHECK_FALSE(serve::DecodeJson(R"({"a": )").ok());
  }

  TEST_CASE("CborAsTheJavaSdkWritesIt") {
    // {"Data": h'00ff', "T": 1(1700000000123), "L": [_ "a"]} with indefinite map and array.
    std::string body =
        Bytes({0xbf, 0x64, 'D',  'a',  't',  'a',  0x42, 0x00, 0xff, 0x61, 'T',  0xc1, 0x1b, 0,
               0,    0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, 0x61, 'L',  0x9f, 0x61, 'a',  0xff, 0xff});
    auto v = serve::DecodeCbor(body);
    REQUIRE_MESSAGE(v.ok(), v.status().message());
    CHECK(v->Find("Data")->kind == Value::Kind::kBytes);
    CHECK(v->Find("Data")->text == Bytes({0x00, 0xff}));
    CHECK(v->Find("T")->epoch_tag);
    CHECK(v->Find("T")->integer == 1700000000123);
    CHECK(v->Find("L")->items[0].text == "a");
    CHECK_FALSE(serve::DecodeCbor(Bytes({0xbf, 0x61})).ok());            // truncated
    CHECK_FALSE(serve::DecodeCbor(Bytes({0xa1, 0x01, 0x02})).ok());      // integer key
    CHECK_FALSE(serve::DecodeCbor(Bytes({0x61, 'a', 0x61, 'b'})).ok());  // trailing item
  }

  // Regression (serve_fuzz): libcbor allocates a container for its declared
  // length before reading it; a 14-byte body declaring 2,660,585,057 array
  // elements made kstream-serve allocate 20 GB. Such a body is refused first.
  TEST_CASE("CborDeclaringMoreThanTheBodyHoldsIsRefusedBeforeDecoding") {
    const std::string fuzz_finding =
        Bytes({0x5f, 0x95, 0xac, 0x8b, 0x8d, 0x9a, 0x9e, 0x95, 0x4e, 0x61, 0x6d, 0x65, 0x61, 0x73});
    for (const std::string& body :
         {fuzz_finding, Bytes({0x9a, 0x01, 0x00, 0x00, 0x00}),  // 2^24 items
          Bytes({0xba, 0x00, 0x80, 0x00, 0x00, 0x01}),          // 2^23 pairs
          Bytes({0xa2, 0x61, 'a', 0x01}),                       // 2 pairs, holds 1
          Bytes({0x5a, 0x7f, 0xff, 0xff, 0xff, 0x00})}) {
      auto v = serve::DecodeCbor(body);
      REQUIRE_FALSE(v.ok());
      CHECK_MESSAGE(v.status().message().find("malformed CBOR at byte") == 0, v.status().message());
    }
    CHECK(serve::DecodeCbor(Bytes({0x9a, 0x01, 0x00, 0x00, 0x00}))
              .status()
              .message()
              .find("declares more items than the body holds") != std::string::npos);
    std::string deep(65, char(0x81));
    deep += char(0xa0);
    CHECK(serve::DecodeCbor(deep).status().message() == "CBOR nested too deeply");

    // What a body does hold still decodes: a self-describe tag (a tag number
    // larger than the body), empty and nested containers, chunked strings.
    auto v =
        serve::DecodeCbor(Bytes({0xd9, 0xd9, 0xf7, 0xa3, 0x61, 'a',  0x80, 0x61, 'b', 0x82, 0xa0,
                                 0x81, 0x40, 0x61, 'c',  0x5f, 0x41, 'x',  0x42, 'y', 'z',  0xff}));
    REQUIRE_MESSAGE(v.ok(), v.status().message());
    CHECK(v->Find("a")->items.empty());
    CHECK(v->Find("b")->items[1].items[0].kind == Value::Kind::kBytes);
    CHECK(v->Find("c")->text == "xyz");
  }

  // Regression (serve_fuzz): libcbor 0.8's cbor_is_bool asserts on a float,
  // so a 3-byte body (a half float) aborted kstream-serve.
  TEST_CASE("CborFloatsOfEveryWidthAndSimpleValuesDecode") {
    auto v = serve::DecodeCbor(
        Bytes({0x87, 0xf9, 0x3e, 0x00, 0xfa, 0x3f, 0xc0, 0,    0,    0xfb, 0x3f,
               0xf8, 0,    0,    0,    0,    0,    0,    0xf5, 0xf4, 0xf6, 0xf7}));
    REQUIRE_MESSAGE(v.ok(), v.status().message());
    REQUIRE(v->items.size() == 7);
    for (int i = 0; i < 3; ++i) {
      CHECK(v->items[size_t(i)].kind == Value::Kind::kDouble);
      CHECK(v->items[size_t(i)].number == 1.5);
    }
    CHECK(v->items[3].kind == Value::Kind::kBool);
    CHECK(v->items[3].boolean);
    CHECK(v->items[4].kind == Value::Kind::kBool);
    CHECK_FALSE(v->items[4].boolean);
    CHECK(v->items[5].kind == Value::Kind::kNull);
    CHECK(v->items[6].kind == Value::Kind::kNull);  // undefined
    CHECK(serve::DecodeCbor(Bytes({0xf9, 0x00, 0xfe}))->kind == Value::Kind::kDouble);
    CHECK_FALSE(serve::DecodeCbor(Bytes({0xf0})).ok());        // simple(16)
    CHECK_FALSE(serve::DecodeCbor(Bytes({0xf8, 0x20})).ok());  // simple(32)
  }

  TEST_CASE("WriterJsonAndCborCarryBlobsAndTimestampsAsTheSdksExpect") {
    for (Encoding e : {Encoding::kJson, Encoding::kCbor}) {
      serve::Writer w(e);
      w.BeginObject();
      w.Key("Data");
      w.Blob(Bytes({0, 1, 0xff}));
      w.Key("T");
      w.Timestamp(1700000000123);
      w.Key("L");
      w.BeginArray();
      w.Int(-3);
      w.Bool(false);
      w.Null();
      w.String("é");
      w.EndArray();
      w.EndObject();
      if (e == Encoding::kJson) {
        CHECK(w.body() == R"({"Data":"AAH/","T":1700000000.123,"L":[-3,false,null,"é"]})");
        continue;
      }
      auto v = serve::DecodeCbor(w.body());
      REQUIRE_MESSAGE(v.ok(), v.status().message());
      CHECK(v->Find("Data")->kind == Value::Kind::kBytes);
      CHECK(v->Find("Data")->text == Bytes({0, 1, 0xff}));
      CHECK(v->Find("T")->epoch_tag);
      CHECK(v->Find("T")->kind == Value::Kind::kInt);
      CHECK(v->Find("T")->integer == 1700000000123);
      CHECK(v->Find("L")->items[0].integer == -3);
      CHECK(v->Find("L")->items[3].text == "é");
    }
  }

  TEST_CASE("RequestMembersAreCheckedWithTheServicesMessages") {
    Value v = Json(R"({"StreamName":"a/b","N":"1","Big":20000,"Data":"!!"})");
    auto name = serve::StreamNameOf(v);
    REQUIRE_FALSE(name.ok());
    CHECK(name.status().error().type == "ValidationException");
    CHECK(name.status().error().message.find("at 'streamName' failed to satisfy constraint") !=
          std::string::npos);
    CHECK(serve::OptionalInt(v, "N", 1, 10).status().error().type == "SerializationException");
    CHECK(serve::OptionalInt(v, "Big", 1, 10000).status().error().type == "ValidationException");
    CHECK(serve::RequiredBlob(v, "Data", "data").status().error().type == "SerializationException");
    CHECK(serve::RequiredString(v, "Missing", 1, 5)
              .status()
              .error()
              .message.find("Member must not be null") != std::string::npos);
    auto arn = serve::StreamNameOf(
        Json(R"({"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/logs"})"));
    REQUIRE(arn.ok());
    CHECK(*arn == "logs");
    CHECK(serve::HashKeyOf("340282366920938463463374607431768211456", "ExplicitHashKey")
              .status()
              .error()
              .type == "InvalidArgumentException");
    CHECK(serve::HashKeyOf("012", "ExplicitHashKey").status().error().type ==
          "ValidationException");
    auto ms = serve::OptionalTimestamp(Json(R"({"T":1700000000.5})"), "T", Encoding::kJson);
    REQUIRE(ms.ok());
    CHECK(**ms == 1700000000500);
  }

  TEST_CASE("TokensRoundTripAndRefuseTamperingAndAge") {
    serve::ShardIterator it;
    it.stream = "logs";
    it.stream_created_ms = 42;
    it.shard_index = 7;
    it.kind = serve::ShardIterator::Kind::kAfter;
    it.counter = 99;
    it.issued_ms = 1000;
    const std::string token = serve::EncodeShardIterator(it);
    CHECK(token.size() <= 512);
    auto back = serve::DecodeShardIterator(token, 1000 + serve::kTokenLifetimeMs);
    REQUIRE(back.ok());
    CHECK(back->stream == "logs");
    CHECK(back->shard_index == 7);
    CHECK(back->counter == 99);
    CHECK(back->stream_created_ms == 42);
    CHECK(serve::DecodeShardIterator(token, 1001 + serve::kTokenLifetimeMs).status().error().type ==
          "ExpiredIteratorException");
    std::string tampered = token;
    tampered[4] = tampered[4] == 'A' ? 'B' : 'A';
    CHECK(serve::DecodeShardIterator(tampered, 1000).status().error().type ==
          "InvalidArgumentException");
    serve::PageToken page;
    page.stream = "logs";
    page.after = "shardId-000000000003";
    page.filter_type = "AT_LATEST";
    page.issued_ms = 5;
    auto p = serve::DecodePageToken(serve::EncodePageToken(page), 6);
    REQUIRE(p.ok());
    CHECK(p->after == "shardId-000000000003");
    CHECK(p->filter_type == "AT_LATEST");
    CHECK(serve::DecodePageToken(token, 1000).status().error().type == "InvalidArgumentException");
  }

  TEST_CASE("ThrottleAdmitsOneSecondsWorthThenRefills") {
    serve::Throttle t;
    int admitted = 0;
    for (int i = 0; i < 1500; ++i) admitted += t.AdmitWrite("s", 0, 10, 5000);
    CHECK(admitted == 1000);
    CHECK_FALSE(t.AdmitWrite("s", 0, 10, 5000));
    CHECK(t.AdmitWrite("s", 1, 10, 5000));  // shards are independent
    CHECK(t.AdmitWrite("s", 0, 10, 5002));  // 2 ms later: 2 records' worth
    CHECK(t.AdmitWrite("s", 0, 10, 5002));
    CHECK_FALSE(t.AdmitWrite("s", 0, 10, 5002));
    for (int i = 0; i < 5; ++i) CHECK(t.AdmitRead("s", 0, 0));
    CHECK_FALSE(t.AdmitRead("s", 0, 0));
    t.ChargeRead("s", 0, 10u << 20, 1000);  // a 10 MiB read overdraws 2 MiB/s
    CHECK_FALSE(t.AdmitRead("s", 0, 1000));
    CHECK_FALSE(t.AdmitRead("s", 0, 5000));
    CHECK(t.AdmitRead("s", 0, 5100));
  }

  TEST_CASE("ListenAddresses") {
    std::string host;
    int port = 0;
    CHECK(serve::ParseListenAddress("127.0.0.1:4567", host, port).ok());
    CHECK((host == "127.0.0.1" && port == 4567));
    CHECK(serve::ParseListenAddress("8080", host, port).ok());
    CHECK((host == "127.0.0.1" && port == 8080));
    CHECK(serve::ParseListenAddress("[::1]:0", host, port).ok());
    CHECK((host == "::1" && port == 0));
    CHECK_FALSE(serve::ParseListenAddress("localhost:http", host, port).ok());
    CHECK_FALSE(serve::ParseListenAddress("1.2.3.4:70000", host, port).ok());
  }

  TEST_CASE("RequestsWithAWrongTargetOrBodyGetTheServicesErrors") {
    Fixture f;
    auto r =
        serve::HandleRequest(f.service, "application/x-amz-json-1.1", "Kinesis.ListStreams", "{}");
    CHECK(r.status == 400);
    CHECK(r.error_type == "UnknownOperationException");
    r = serve::HandleRequest(f.service, "application/x-amz-json-1.1",
                             "Kinesis_20131202.ListStreams", "{nope");
    CHECK(r.error_type == "SerializationException");
    r = serve::HandleRequest(f.service, "application/x-amz-cbor-1.1",
                             "Kinesis_20131202.ListStreams", "");
    CHECK(r.status == 200);
    CHECK(r.content_type == "application/x-amz-cbor-1.1");
    CHECK(f.Error("DescribeStream", R"({"StreamName":"none"})") == "ResourceNotFoundException");
  }

  TEST_CASE("PutAndGetRecordsWithLatestAndShardEnd") {
    Fixture f;
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":1})");
    CHECK(f.Error("CreateStream", R"({"StreamName":"s","ShardCount":1})") ==
          "ResourceInUseException");
    Value put = f.Ok("PutRecords", R"({"StreamName":"s","Records":[
        {"PartitionKey":"a","Data":"AA=="},{"PartitionKey":"b","Data":"/w=="}]})");
    CHECK(put.Find("FailedRecordCount")->integer == 0);
    const std::string latest = f.Iterator("shardId-000000000000", "LATEST");
    f.Ok("PutRecord", R"({"StreamName":"s","PartitionKey":"c","Data":"Yw=="})");

    Value all = f.Records(f.Iterator("shardId-000000000000", "TRIM_HORIZON"), 2);
    REQUIRE(all.Find("Records")->items.size() == 2);
    CHECK(all.Find("Records")->items[1].Find("Data")->text == "/w==");
    Value rest = f.Records(all.Find("NextShardIterator")->text);
    REQUIRE(rest.Find("Records")->items.size() == 1);
    CHECK(rest.Find("Records")->items[0].Find("PartitionKey")->text == "c");
    Value after_latest = f.Records(latest);
    REQUIRE(after_latest.Find("Records")->items.size() == 1);
    CHECK(after_latest.Find("Records")->items[0].Find("Data")->text == "Yw==");
    // Caught up: no records, an iterator all the same.
    Value empty = f.Records(after_latest.Find("NextShardIterator")->text);
    CHECK(empty.Find("Records")->items.empty());
    CHECK(empty.Find("MillisBehindLatest")->integer == 0);
    const std::string parked = empty.Find("NextShardIterator")->text;

    f.Ok("SplitShard", R"({"StreamName":"s","ShardToSplit":"shardId-000000000000",
                          "NewStartingHashKey":"1000"})");
    CHECK(f.Error("SplitShard", R"({"StreamName":"s","ShardToSplit":"shardId-000000000000",
                                   "NewStartingHashKey":"1000"})") == "InvalidArgumentException");
    Value end = f.Records(parked);
    CHECK(end.Find("NextShardIterator") == nullptr);
    REQUIRE(end.Find("ChildShards")->items.size() == 2);
    CHECK(end.Find("ChildShards")->items[0].Find("ParentShards")->items[0].text ==
          "shardId-000000000000");

    // Iterators expire after five minutes.
    const std::string it = f.Iterator("shardId-000000000001", "TRIM_HORIZON");
    f.t.env.Advance(serve::kTokenLifetimeMs + 1);
    CHECK(f.Error("GetRecords", R"({"ShardIterator":")" + it + "\"}") ==
          "ExpiredIteratorException");
  }

  TEST_CASE("IteratorsAtAndAfterSequenceNumbersAndTimestamps") {
    Fixture f;
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":1})");
    std::vector<std::string> seqs;
    for (int i = 0; i < 3; ++i) {
      f.t.env.Advance(1000);
      seqs.push_back(f.Ok("PutRecord", R"({"StreamName":"s","PartitionKey":"k","Data":"eA=="})")
                         .Find("SequenceNumber")
                         ->text);
    }
    auto first_seq = [&](const std::string& type, const std::string& extra) {
      Value r = f.Records(f.Iterator("shardId-000000000000", type, extra));
      return r.Find("Records")->items.empty()
                 ? std::string()
                 : r.Find("Records")->items[0].Find("SequenceNumber")->text;
    };
    CHECK(first_seq("AT_SEQUENCE_NUMBER", R"(,"StartingSequenceNumber":")" + seqs[1] + "\"") ==
          seqs[1]);
    CHECK(first_seq("AFTER_SEQUENCE_NUMBER", R"(,"StartingSequenceNumber":")" + seqs[1] + "\"") ==
          seqs[2]);
    const int64_t t2 = f.t.env.NowMillis() - 1000;  // the second record's arrival
    CHECK(first_seq("AT_TIMESTAMP", ",\"Timestamp\":" + std::to_string(t2 / 1000) + "." +
                                        std::to_string(t2 % 1000)) == seqs[1]);
    CHECK(f.Error("GetShardIterator",
                  R"({"StreamName":"s","ShardId":"shardId-000000000000",
                      "ShardIteratorType":"AT_SEQUENCE_NUMBER","StartingSequenceNumber":"5"})") ==
          "InvalidArgumentException");  // encodes no shard of this stream
    CHECK(f.Error("GetShardIterator", R"({"StreamName":"s","ShardId":"shardId-000000000000",
                      "ShardIteratorType":"AT_TIMESTAMP","Timestamp":99999999999})") ==
          "InvalidArgumentException");  // in the future
  }

  TEST_CASE("ListShardsPagesAndFilters") {
    Fixture f;
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":3})");
    f.t.env.Advance(1000);
    f.Ok("MergeShards", R"({"StreamName":"s","ShardToMerge":"shardId-000000000000",
                           "AdjacentShardToMerge":"shardId-000000000001"})");
    Value page = f.Ok("ListShards", R"({"StreamName":"s","MaxResults":3})");
    CHECK(page.Find("Shards")->items.size() == 3);
    REQUIRE(page.Find("NextToken"));
    CHECK(f.Error("ListShards",
                  R"({"StreamName":"s","NextToken":")" + page.Find("NextToken")->text + "\"}") ==
          "InvalidArgumentException");
    Value rest = f.Ok("ListShards", R"({"NextToken":")" + page.Find("NextToken")->text + "\"}");
    REQUIRE(rest.Find("Shards")->items.size() == 1);
    CHECK(rest.Find("Shards")->items[0].Find("AdjacentParentShardId")->text ==
          "shardId-000000000001");
    Value open = f.Ok("ListShards", R"({"StreamName":"s","ShardFilter":{"Type":"AT_LATEST"}})");
    CHECK(open.Find("Shards")->items.size() == 2);
    Value horizon =
        f.Ok("ListShards", R"({"StreamName":"s","ShardFilter":{"Type":"AT_TRIM_HORIZON"}})");
    CHECK(horizon.Find("Shards")->items.size() == 3);
    Value after = f.Ok("ListShards", R"({"StreamName":"s","ShardFilter":
                           {"Type":"AFTER_SHARD_ID","ShardId":"shardId-000000000001"}})");
    CHECK(after.Find("Shards")->items.size() == 2);
    CHECK(f.Error("ListShards", "{}") == "InvalidArgumentException");
  }

  TEST_CASE("UpdateShardCountKeepsTheHalfToDoubleRule") {
    Fixture f;
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":4})");
    CHECK(f.Error("UpdateShardCount", R"({"StreamName":"s","TargetShardCount":9,
                                        "ScalingType":"UNIFORM_SCALING"})") ==
          "LimitExceededException");
    CHECK(f.Error("UpdateShardCount", R"({"StreamName":"s","TargetShardCount":1,
                                        "ScalingType":"UNIFORM_SCALING"})") ==
          "LimitExceededException");
    Value r = f.Ok("UpdateShardCount", R"({"StreamName":"s","TargetShardCount":3,
                                          "ScalingType":"UNIFORM_SCALING"})");
    CHECK(r.Find("CurrentShardCount")->integer == 4);
    auto meta = kstest::Value(f.t.store.ListShards("s"));
    auto open = meta.OpenShards();
    REQUIRE(open.size() == 3);
    CHECK(CheckOpenShardsTile(meta).ok());
    const auto uniform = UniformShards(3, 0, 0);
    for (size_t i = 0; i < 3; ++i) CHECK(open[i]->start_hash == uniform[i].start_hash);
  }

  // Kinesis refuses what would pass the account's shard quota; before, only
  // one CreateStream over 10000 shards was refused, so streams (and splits)
  // could add shards without end (serve_fuzz's store grew without bound).
  TEST_CASE("OpenShardsAcrossStreamsStayWithinTheShardLimit") {
    Fixture f(6);
    auto open_count = [&] { return f.Ok("DescribeLimits", "{}").Find("OpenShardCount")->integer; };
    CHECK(f.Ok("DescribeLimits", "{}").Find("ShardLimit")->integer == 6);
    f.Ok("CreateStream", R"({"StreamName":"a","ShardCount":4})");
    CHECK(f.Error("CreateStream", R"({"StreamName":"b","ShardCount":3})") ==
          "LimitExceededException");
    f.Ok("CreateStream", R"({"StreamName":"b","ShardCount":2})");
    CHECK(open_count() == 6);
    const std::string split =
        R"({"StreamName":"b","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"1000"})";
    CHECK(f.Error("SplitShard", split) == "LimitExceededException");
    CHECK(f.Error("UpdateShardCount",
                  R"({"StreamName":"b","TargetShardCount":3,"ScalingType":"UNIFORM_SCALING"})") ==
          "LimitExceededException");
    f.Ok(
        "MergeShards",
        R"({"StreamName":"b","ShardToMerge":"shardId-000000000000","AdjacentShardToMerge":"shardId-000000000001"})");
    CHECK(open_count() == 5);
    f.Ok("SplitShard",
         R"({"StreamName":"b","ShardToSplit":"shardId-000000000002","NewStartingHashKey":"1000"})");
    CHECK(open_count() == 6);
    f.Ok("DeleteStream", R"({"StreamName":"a"})");
    f.Ok("UpdateShardCount",
         R"({"StreamName":"b","TargetShardCount":4,"ScalingType":"UNIFORM_SCALING"})");
    CHECK(open_count() == 4);
  }

  TEST_CASE("TagsAreKeptInTheStreamMetadata") {
    Fixture f;
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":1,"Tags":{"team":"data"}})");
    f.Ok("AddTagsToStream", R"({"StreamName":"s","Tags":{"env":"test","team":"ops"}})");
    f.Ok("RemoveTagsFromStream", R"({"StreamName":"s","TagKeys":["env"]})");
    Value tags = f.Ok("ListTagsForStream", R"({"StreamName":"s"})");
    REQUIRE(tags.Find("Tags")->items.size() == 1);
    CHECK(tags.Find("Tags")->items[0].Find("Value")->text == "ops");
    auto meta = kstest::Value(f.t.store.ListShards("s"));
    CHECK(meta.tags == std::map<std::string, std::string>{{"team", "ops"}});
    auto decoded = kstest::Value(DecodeStreamMeta(EncodeStreamMeta(meta), "stream.json"));
    CHECK(decoded.tags == meta.tags);
    std::string eleven = "{";
    for (int i = 0; i < 11; ++i) eleven += (i ? ",\"" : "\"") + std::to_string(i) + "\":\"v\"";
    CHECK(f.Error("AddTagsToStream", R"({"StreamName":"s","Tags":)" + eleven + "}}") ==
          "ValidationException");
  }

  TEST_CASE("DescribeStreamAndListTagsPageByLimitAndExclusiveStart") {
    Fixture f;
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":3,"Tags":{"a":"1","b":"2","c":"3"}})");
    // "0001+": the last two digits of each shard id, "+" when more follow.
    auto shard_ids = [](const Value& doc) {
      const Value& d = *doc.Find("StreamDescription");
      std::string ids;
      for (const auto& s : d.Find("Shards")->items) ids += s.Find("ShardId")->text.substr(18);
      return ids + (d.Find("HasMoreShards")->boolean ? "+" : "");
    };
    CHECK(shard_ids(f.Ok("DescribeStream", R"({"StreamName":"s"})")) == "000102");
    CHECK(shard_ids(f.Ok("DescribeStream", R"({"StreamName":"s","Limit":2})")) == "0001+");
    CHECK(shard_ids(f.Ok(
              "DescribeStream",
              R"({"StreamName":"s","Limit":2,"ExclusiveStartShardId":"shardId-000000000000"})")) ==
          "0102");
    CHECK(f.Error("DescribeStream", R"({"StreamName":"s","Limit":0})") == "ValidationException");
    CHECK(f.Error("DescribeStream", R"({"StreamName":"nope","Limit":2})") ==
          "ResourceNotFoundException");

    auto tag_keys = [](const Value& doc) {
      std::string keys;
      for (const auto& t : doc.Find("Tags")->items) keys += t.Find("Key")->text;
      return keys + (doc.Find("HasMoreTags")->boolean ? "+" : "");
    };
    CHECK(tag_keys(f.Ok("ListTagsForStream", R"({"StreamName":"s"})")) == "abc");
    CHECK(tag_keys(f.Ok("ListTagsForStream", R"({"StreamName":"s","Limit":2})")) == "ab+");
    CHECK(tag_keys(f.Ok("ListTagsForStream",
                        R"({"StreamName":"s","Limit":2,"ExclusiveStartTagKey":"a"})")) == "bc");
    CHECK(f.Error("ListTagsForStream", R"({"StreamName":"s","Limit":51})") ==
          "ValidationException");
  }

  TEST_CASE("RetentionChangesKeepTheirDirection") {
    Fixture f;
    f.Ok("CreateStream", R"({"StreamName":"s","ShardCount":1})");
    CHECK(f.Error("DecreaseStreamRetentionPeriod",
                  R"({"StreamName":"s","RetentionPeriodHours":48})") == "InvalidArgumentException");
    f.Ok("IncreaseStreamRetentionPeriod", R"({"StreamName":"s","RetentionPeriodHours":48})");
    CHECK(f.Error("IncreaseStreamRetentionPeriod",
                  R"({"StreamName":"s","RetentionPeriodHours":9000})") ==
          "InvalidArgumentException");
    f.Ok("DecreaseStreamRetentionPeriod", R"({"StreamName":"s","RetentionPeriodHours":24})");
    Value d = f.Ok("DescribeStreamSummary", R"({"StreamName":"s"})");
    CHECK(d.Find("StreamDescriptionSummary")->Find("RetentionPeriodHours")->integer == 24);
  }

  TEST_CASE("SignaturesAreVerifiedAgainstTheKeyRing") {
    serve::KeyRing keys;
    keys.Add("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    aws::SignableRequest req;
    req.headers = {{"Host", "127.0.0.1:4567"},
                   {"Content-Type", "application/x-amz-json-1.1"},
                   {"X-Amz-Target", "Kinesis_20131202.ListStreams"}};
    req.body = "{}";
    const int64_t now = 1700000000;
    REQUIRE(aws::SignRequest(req, {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""},
                             "us-east-1", "kinesis", now)
                .ok());
    serve::SignedRequest in{"POST", "/", req.headers, "{}"};
    CHECK(serve::VerifySignature(keys, in, now + 60).ok());
    in.body = "{ }";  // the body is signed
    CHECK(serve::VerifySignature(keys, in, now).error().type == "InvalidSignatureException");
    in.body = "{}";
    CHECK(serve::VerifySignature(keys, in, now + 3600).error().type ==
          "InvalidSignatureException");  // too old
    serve::KeyRing other;
    other.Add("AKIDOTHER", "x");
    CHECK(serve::VerifySignature(other, in, now).error().type == "UnrecognizedClientException");
    in.headers.clear();
    auto missing = serve::VerifySignature(keys, in, now);
    CHECK(missing.error().type == "MissingAuthenticationTokenException");
    CHECK(missing.error().http_status == 403);
  }
}
