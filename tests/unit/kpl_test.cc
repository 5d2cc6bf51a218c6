// lib/kpl: the KPL aggregated record, written byte for byte as the
// aws-kinesis-agg module writes it, read back, and hostile input refused
// without a crash.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <doctest/doctest.h>
#include <openssl/md5.h>

#include <string>
#include <vector>

#include "core/hash_key.h"
#include "kpl/aggregate.h"
#include "kpl/wire.h"
#include "test_util.h"

using namespace kstream;
using namespace kstream::kpl;

namespace {

using kstest::FromHex;

// magic + message + MD5(message): a well-formed envelope around any bytes.
std::string Wrap(std::string_view message) {
  unsigned char digest[16];
  MD5(reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest);
  return std::string(kMagic) + std::string(message) +
         std::string(reinterpret_cast<const char*>(digest), 16);
}

std::string Field(uint32_t field, std::string_view bytes) {
  std::string out;
  AppendLengthDelimited(out, field, bytes);
  return out;
}

std::string VarintField(uint32_t field, uint64_t v) {
  std::string out;
  AppendTag(out, field, kVarint);
  AppendVarint(out, v);
  return out;
}

std::string Encode(const std::vector<UserRecord>& records) {
  Aggregator a;
  for (const auto& r : records) a.Add(r);
  std::string out;
  a.AppendTo(out);
  return out;
}

}  // namespace

TEST_SUITE("kpl") {
  TEST_CASE("AggregatorWritesTheBytesAwsKinesisAggWrites") {
    // aws-kinesis-agg 4.2.8, RecordAggregator.addUserRecord of these three
    // records, then build(); the CLI test cli.kpl_interop repeats this live.
    const std::string expected = FromHex(
        "f3899ac20a05616c7068610a046265746112273137303134313138333436303436393233313733313638373330"
        "333731353838343130353732381a0908001a0568656c6c6f1a0b080110001a05776f726c641a0808001a040001"
        "02ff6ab2ff0c6100ae5eee7056a6b053dab2");
    const std::string binary("\x00\x01\x02\xff", 4);
    const uint128 half = uint128(1) << 127;
    Aggregator a;
    std::vector<UserRecord> records = {
        {"alpha", std::nullopt, "hello"}, {"beta", half, "world"}, {"alpha", std::nullopt, binary}};
    for (const auto& r : records) {
      const size_t predicted = a.SizeWith(r);
      a.Add(r);
      CHECK(a.size() == predicted);
    }
    std::string out;
    a.AppendTo(out);
    CHECK(out.size() == a.size());
    CHECK(out == expected);
  }

  TEST_CASE("DecoderReturnsUserRecordsInOrderWithTheirKeys") {
    Decoder d;
    std::vector<UserRecord> in;
    std::vector<std::string> keys, datas;
    for (int i = 0; i < 300; ++i) {
      keys.push_back("key-" + std::to_string(i % 7));
      datas.push_back(std::string(size_t(i), char('a' + i % 26)));
    }
    for (int i = 0; i < 300; ++i)
      in.push_back({keys[i], i % 3 == 0 ? std::optional<uint128>(uint128(i) << 100) : std::nullopt,
                    datas[i]});
    const std::string bytes = Encode(in);
    REQUIRE(d.Decode(bytes) == Decoder::Result::kAggregate);
    REQUIRE(d.records().size() == in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      CAPTURE(i);
      CHECK(d.records()[i].partition_key == in[i].partition_key);
      CHECK(d.records()[i].explicit_hash_key == in[i].explicit_hash_key);
      CHECK(d.records()[i].data == in[i].data);
    }
  }

  TEST_CASE("KeysAreStoredOnceInTheTables") {
    const std::string one = Encode({{"k", std::nullopt, "x"}});
    const std::string two = Encode({{"k", std::nullopt, "x"}, {"k", std::nullopt, "x"}});
    // The second record costs its Record message only: tag, length, index, data.
    CHECK(two.size() - one.size() == 2 + 2 + 3);
  }

  TEST_CASE("DataWithoutTheMagicIsPlain") {
    Decoder d;
    CHECK(d.Decode("") == Decoder::Result::kPlain);
    CHECK(d.Decode("hello") == Decoder::Result::kPlain);
    CHECK(d.Decode(std::string_view("\xF3\x89\x9A", 3)) == Decoder::Result::kPlain);
    CHECK(d.Decode(std::string_view("\xF3\x89\x9A\xC3xxxxxxxxxxxxxxxxxxxx")) ==
          Decoder::Result::kPlain);
  }

  TEST_CASE("MalformedAggregatesAreReportedWithAReason") {
    Decoder d;
    const std::string good = Encode({{"k", std::nullopt, "data"}});
    auto malformed = [&](const std::string& bytes, std::string_view why) {
      CAPTURE(why);
      CHECK(d.Decode(bytes) == Decoder::Result::kMalformed);
      CHECK(d.error().find(why) != std::string::npos);
      CHECK(d.records().empty());
    };
    malformed(std::string(kMagic), "too short");
    malformed(std::string(kMagic) + std::string(16, '\0'), "too short");
    std::string bad_digest = good;
    bad_digest.back() ^= 1;
    malformed(bad_digest, "MD5");
    std::string bad_body = good;
    bad_body[6] ^= 0x40;
    malformed(bad_body, "MD5");
    // Well-formed envelopes around bad messages.
    const std::string record = Field(3, VarintField(1, 0) + Field(3, "d"));
    malformed(Wrap(Field(1, "k") + record.substr(0, record.size() - 1)), "truncated");
    malformed(Wrap(Field(1, "k")), "no user records");
    malformed(Wrap(Field(1, "k") + Field(3, VarintField(1, 1) + Field(3, "d"))),
              "partition key index 1 is outside the table of 1");
    malformed(Wrap(Field(1, "k") + Field(3, VarintField(1, 0) + VarintField(2, 0) + Field(3, "d"))),
              "explicit hash key index 0 is outside the table of 0");
    malformed(Wrap(Field(1, "k") + Field(2, "12x") + record), "explicit hash key");
    malformed(Wrap(Field(1, "k") + Field(2, std::string(40, '9')) + record), "explicit hash key");
    malformed(Wrap(Field(1, "k") + Field(3, Field(3, "d"))), "no partition key index");
    malformed(Wrap(Field(1, "k") + Field(3, VarintField(1, 0))), "no data");
    malformed(Wrap(Field(1, "k") + Field(3, VarintField(1, 0) + VarintField(3, 5))), "wire type");
    malformed(Wrap(VarintField(1, 5) + record), "field 1 has the wrong wire type");
    std::string group;
    AppendTag(group, 9, kStartGroup);
    malformed(Wrap(Field(1, "k") + record + group), "truncated or damaged");
  }

  TEST_CASE("UnknownFieldsTagsAndAnyFieldOrderAreAccepted") {
    Decoder d;
    std::string fixed64, fixed32;
    AppendTag(fixed64, 7, kFixed64);
    fixed64 += std::string(8, 'z');
    AppendTag(fixed32, 8, kFixed32);
    fixed32 += std::string(4, 'z');
    const std::string tag = Field(1, "tk") + Field(2, "tv");
    // Records before the tables that they index; tags and unknown fields.
    const std::string message = Field(3, VarintField(1, 1) + Field(3, "one") + Field(4, tag)) +
                                VarintField(9, 123456789) + fixed64 + fixed32 +
                                Field(3, VarintField(1, 0) + VarintField(2, 0) + Field(3, "")) +
                                Field(1, "first") + Field(1, "second") + Field(2, "42");
    const std::string bytes = Wrap(message);  // records() point into it
    REQUIRE(d.Decode(bytes) == Decoder::Result::kAggregate);
    REQUIRE(d.records().size() == 2);
    CHECK(d.records()[0].partition_key == "second");
    CHECK(d.records()[0].data == "one");
    CHECK(!d.records()[0].explicit_hash_key);
    CHECK(d.records()[1].partition_key == "first");
    CHECK(d.records()[1].data.empty());
    CHECK(d.records()[1].explicit_hash_key == uint128(42));
  }

  TEST_CASE("EveryTruncationAndByteFlipIsRefusedOrDecodedNeverOverrun") {
    // The digest is recomputed so the protobuf parser itself sees the damage.
    const std::string good = Encode({{"alpha", std::nullopt, "hello"},
                                     {"beta", uint128(7), std::string(200, 'x')},
                                     {"alpha", std::nullopt, ""}});
    const std::string message = good.substr(4, good.size() - kFixedOverhead);
    Decoder d;
    size_t refused = 0;
    for (size_t n = 0; n < message.size(); ++n) {
      const auto r = d.Decode(Wrap(message.substr(0, n)));
      CHECK(r != Decoder::Result::kPlain);
      refused += r == Decoder::Result::kMalformed;
    }
    CHECK(refused > 0);
    for (size_t i = 0; i < message.size(); ++i) {
      for (unsigned char bit : {0x01, 0x80, 0xff}) {
        std::string damaged = message;
        damaged[i] = char(uint8_t(damaged[i]) ^ bit);
        const auto r = d.Decode(Wrap(damaged));
        if (r == Decoder::Result::kAggregate)
          for (const auto& u : d.records()) CHECK(u.data.size() <= damaged.size());
      }
    }
    // And the envelope untouched by recomputation: a flipped byte anywhere is caught.
    for (size_t i = 4; i < good.size(); ++i) {
      std::string damaged = good;
      damaged[i] ^= 0x10;
      CHECK(d.Decode(damaged) == Decoder::Result::kMalformed);
    }
  }

  TEST_CASE("VarintsRoundTripAndOverlongOnesAreRefused") {
    for (uint64_t v : {uint64_t(0), uint64_t(1), uint64_t(127), uint64_t(128), uint64_t(300),
                       uint64_t(1) << 35, ~uint64_t(0)}) {
      std::string out;
      AppendVarint(out, v);
      CHECK(out.size() == VarintSize(v));
      WireReader in(out);
      uint64_t back = 0;
      CHECK(in.ReadVarint(back));
      CHECK(back == v);
      CHECK(in.done());
    }
    const std::string eleven_bytes = std::string(10, '\xff') + "\x01";
    const std::string too_big_bytes = std::string(9, '\xff') + "\x02";
    WireReader eleven(eleven_bytes), too_big(too_big_bytes);
    uint64_t v;
    CHECK(!eleven.ReadVarint(v));
    CHECK(!too_big.ReadVarint(v));
    WireReader cut("\x80");
    CHECK(!cut.ReadVarint(v));
    std::string_view bytes;
    WireReader long_length(
        "\x05"
        "abc");
    CHECK(!long_length.ReadLengthDelimited(bytes));
  }
}
