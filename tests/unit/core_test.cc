// lib/core: hashing, 128-bit decimals, text parsing, base64, JSON strings, CRC-32C.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "core/crc32c.h"
#include "core/hash_key.h"
#include "core/sequence_number.h"
#include "core/text.h"
#include "test_util.h"

using namespace kstream;
using kstest::Value;

namespace {

uint128 Dec(std::string_view s) {
  auto r = ParseDecimal128(s, "test value");
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  return *r;
}

// Bit-at-a-time reference CRC-32C, independent of the table/SSE versions.
uint32_t ReferenceCrc32c(const unsigned char* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

}  // namespace

TEST_SUITE("core") {
  TEST_CASE("HashPartitionKeyMatchesMd5ReadBigEndian") {
    // Expected values: `printf %s KEY | md5sum`, hex converted to decimal.
    CHECK(HashPartitionKey("a") == Dec("16955237001963240173058271559858726497"));
    CHECK(HashPartitionKey("user-42") == Dec("157107139746365290205026809710278036035"));
    CHECK(HashPartitionKey("") == Dec("281949768489412648962353822266799178366"));
    CHECK(HashPartitionKey("partitionKey") == Dec("193318062818912349798954611745638949166"));
    CHECK(HashPartitionKey("h\xc3\xa9llo") == Dec("252973414135665226741597071662034525008"));
  }

  TEST_CASE("DecimalRoundTripsAndAcceptsTheFullRange") {
    const uint128 max = kMaxHashKey;
    CHECK(ToDecimal(0) == "0");
    CHECK(ToDecimal(max) == "340282366920938463463374607431768211455");
    CHECK(Dec("340282366920938463463374607431768211455") == max);
    for (uint128 v : {uint128(0), uint128(1), uint128(9), uint128(10), uint128(UINT64_MAX),
                      uint128(UINT64_MAX) + 1, max / 3, max - 1, max}) {
      CHECK(Dec(ToDecimal(v)) == v);
    }
    std::string out = "seq=";
    AppendDecimal(out, uint128(1) << 64);
    CHECK(out == "seq=18446744073709551616");
    // The formatter works in base-10^19 chunks: check every chunk boundary.
    for (const char* text :
         {"9999999999999999999", "10000000000000000000", "10000000000000000001",
          "99999999999999999999999999999999999999", "100000000000000000000000000000000000000",
          "100000000000000000000000000000000000001", "18446744073709551617000000000000000000"}) {
      CHECK(ToDecimal(Dec(text)) == text);
    }
  }

  TEST_CASE("DecimalParseRejectsOverflowSignsAndLeadingZeros") {
    for (const char* bad : {"340282366920938463463374607431768211456",   // 2^128
                            "999999999999999999999999999999999999999",   // 39 digits, too big
                            "1000000000000000000000000000000000000000",  // 40 digits
                            "", "00", "01", "+1", "-1", " 1", "1 ", "1a", "0x10", "1.0"}) {
      auto r = ParseDecimal128(bad, "hash key");
      CHECK_MESSAGE(!r.ok(), "accepted '", bad, "'");
      if (!r.ok()) {
        CHECK(r.status().code() == StatusCode::kInvalidArgument);
        CHECK(r.status().message().find("hash key") != std::string::npos);
      }
    }
  }

  TEST_CASE("SequenceNumbersEncodeShardAndCounter") {
    const uint128 s = MakeSequenceNumber(5, 42);
    CHECK(SequenceShardIndex(s) == 5);
    CHECK(SequenceCounter(s) == 42);
    CHECK(MakeSequenceNumber(0, 0) == uint128(1) << 64);
    CHECK(MakeSequenceNumber(1, 0) > MakeSequenceNumber(0, UINT64_MAX));
  }

  TEST_CASE("ParseDurationUnits") {
    CHECK(Value(ParseDuration("500ms")) == 500);
    CHECK(Value(ParseDuration("5s")) == 5000);
    CHECK(Value(ParseDuration("5")) == 5000);
    CHECK(Value(ParseDuration("1.5s")) == 1500);
    CHECK(Value(ParseDuration("2m")) == 120000);
    CHECK(Value(ParseDuration("1h")) == 3600000);
    CHECK(Value(ParseDuration("1d")) == 86400000);
    for (const char* bad : {"", "abc", "5x", "-5s", "ms", "1.2.3s", "5 s"}) {
      CHECK_MESSAGE(!ParseDuration(bad).ok(), "accepted '", bad, "'");
    }
  }

  TEST_CASE("ParseSizeUnits") {
    CHECK(Value(ParseSize("512")) == 512);
    CHECK(Value(ParseSize("64KiB")) == 65536);
    CHECK(Value(ParseSize("1K")) == 1024);
    CHECK(Value(ParseSize("5MiB")) == 5u << 20);
    CHECK(Value(ParseSize("1GiB")) == 1u << 30);
    CHECK(Value(ParseSize("1KB")) == 1000);
    CHECK(Value(ParseSize("2MB")) == 2000000);
    CHECK(Value(ParseSize("3GB")) == 3000000000ull);
    for (const char* bad : {"", "KiB", "10XB", "-1", "1 MiB"}) {
      CHECK_MESSAGE(!ParseSize(bad).ok(), "accepted '", bad, "'");
    }
  }

  TEST_CASE("ParseTimestampIsoAndEpochForms") {
    // Expected values from Python's datetime.fromisoformat(...).timestamp().
    CHECK(Value(ParseTimestamp("2024-01-02T03:04:05.678Z")) == 1704164645678);
    CHECK(Value(ParseTimestamp("2024-01-02T03:04:05.678+02:00")) == 1704157445678);
    CHECK(Value(ParseTimestamp("2024-01-02T03:04:05-05:30")) == 1704184445000);
    CHECK(Value(ParseTimestamp("2024-01-02T03:04:05+0000")) == 1704164645000);
    CHECK(Value(ParseTimestamp("2024-01-02 03:04:05")) == 1704164645000);
    CHECK(Value(ParseTimestamp("2024-01-02")) == 1704153600000);
    CHECK(Value(ParseTimestamp("1970-01-01T00:00:00Z")) == 0);
    CHECK(Value(ParseTimestamp("2000-02-29T23:59:59.999Z")) == 951868799999);
    CHECK(Value(ParseTimestamp("1700000000")) == 1700000000000);
    CHECK(Value(ParseTimestamp("1700000000.25")) == 1700000000250);
    CHECK(Value(ParseTimestamp("1700000000250ms")) == 1700000000250);
    CHECK(Value(ParseTimestamp("253402300799.999")) == 253402300799999);  // 9999-12-31T23:59:59.999Z
    for (const char* bad : {"", "yesterday", "2024-13-01T00:00:00Z", "2024-01-02T25:00:00Z",
                            "2024-01-02T03:04:05Q", "2024-01-02T03:04:05.Z", "17000x",
                            // Found by fuzz/text_fuzz.cc: epoch values past the year 9999
                            // overflowed the int64 conversion.
                            "340282366920938463463374607431768211455", "1e300", "-1e300ms",
                            "253402300800"}) {
      CHECK_MESSAGE(!ParseTimestamp(bad).ok(), "accepted '", bad, "'");
    }
  }

  TEST_CASE("FormatTimestampAndEpochSeconds") {
    CHECK(FormatTimestamp(1704164645678) == "2024-01-02T03:04:05.678Z");
    CHECK(FormatTimestamp(0) == "1970-01-01T00:00:00.000Z");
    CHECK(Value(ParseTimestamp(FormatTimestamp(951868799999))) == 951868799999);
    std::string out;
    AppendEpochSeconds(out, 1700000000123);
    CHECK(out == "1700000000.123");
    out.clear();
    AppendEpochSeconds(out, 5);
    CHECK(out == "0.005");
  }

  TEST_CASE("ShardIdsFormatAndParse") {
    CHECK(ShardIdFor(7) == "shardId-000000000007");
    CHECK(Value(ParseShardId("shardId-000000000007")) == 7);
    CHECK(Value(ParseShardId("7")) == 7);
    CHECK(Value(ParseShardId("shardId-12")) == 12);
    for (const char* bad : {"", "shardId-", "shard-7", "7x", "-1"}) {
      CHECK_MESSAGE(!ParseShardId(bad).ok(), "accepted '", bad, "'");
    }
  }

  TEST_CASE("Base64KnownVectorsCoverEveryPaddingCase") {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                           {"f", "Zg=="},
                                                           {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},
                                                           {"foob", "Zm9vYg=="},
                                                           {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (auto [plain, encoded] : vectors) {
      std::string out = "x";
      AppendBase64(out, plain);
      CHECK(out == std::string("x") + encoded);
      std::string back = "stale";
      CHECK(DecodeBase64(encoded, back));
      CHECK(back == plain);
    }
  }

  TEST_CASE("Base64RoundTripsEveryByteAndLength") {
    std::string all;
    for (int i = 0; i < 256; ++i) all += char(i);
    for (size_t len = 0; len <= all.size(); len += (len < 10 ? 1 : 61)) {
      const std::string plain = all.substr(all.size() - len);
      std::string enc, dec;
      AppendBase64(enc, plain);
      CHECK(enc.size() == (len + 2) / 3 * 4);
      CHECK(DecodeBase64(enc, dec));
      CHECK(dec == plain);
    }
  }

  TEST_CASE("Base64RejectsMalformedInput") {
    std::string out;
    for (const char* bad : {"Zg", "Zg=", "Z===", "====", "=Zg=", "Zm=v",
                            "Zg==Zg==", "Zm9v Yg==", "Zm9vYg=a", "Zm9$", "Zm9v\n", "Zm9v===="}) {
      CHECK_MESSAGE(!DecodeBase64(bad, out), "accepted '", bad, "'");
    }
    CHECK(!DecodeBase64(std::string_view("Zm8=\0\0\0\0", 8), out));
  }

  TEST_CASE("JsonStringEscapesControlAndQuoteCharacters") {
    CHECK(Json("plain") == "\"plain\"");
    CHECK(Json("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(Json("\n\t\r") == "\"\\n\\t\\r\"");
    CHECK(Json(std::string_view("\x01\x1f\0", 3)) == "\"\\u0001\\u001f\\u0000\"");
    CHECK(Json("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80") ==
          "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
  }

  TEST_CASE("JsonStringReplacesInvalidUtf8") {
    const std::string fffd = "\xef\xbf\xbd";
    CHECK(Json("\xff") == "\"" + fffd + "\"");
    CHECK(Json("a\x80z") == "\"a" + fffd + "z\"");
    CHECK(Json("\xc0\xaf") == "\"" + fffd + fffd + "\"");             // overlong '/'
    CHECK(Json("\xed\xa0\x80") == "\"" + fffd + fffd + fffd + "\"");  // surrogate
    CHECK(Json("\xe2\x82") == "\"" + fffd + fffd + "\"");             // truncated
    CHECK(Json("\xf4\x90\x80\x80").find(fffd) != std::string::npos);  // above U+10FFFF
    for (const char* s : {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "ok"}) {
      CHECK(IsValidUtf8(Json(s)));
    }
    CHECK(IsValidUtf8("h\xc3\xa9llo"));
    CHECK(!IsValidUtf8("\xc3"));
  }

  TEST_CASE("StreamNamesAreValidatedBeforeTouchingTheFileSystem") {
    for (const std::string& bad :
         {std::string("../x"), std::string(""), std::string("a/b"), std::string(129, 'a'),
          std::string("."), std::string(".."), std::string("a b"), std::string("caf\xc3\xa9")}) {
      Status s = ValidateStreamName(bad);
      CHECK_MESSAGE(!s.ok(), "accepted '", bad, "'");
      CHECK(s.code() == StatusCode::kInvalidArgument);
    }
    CHECK(ValidateStreamName(std::string(128, 'a')).ok());
    CHECK(ValidateStreamName("my-stream_1.0").ok());
    CHECK(ValidateStreamName("...").ok());
  }

  TEST_CASE("Crc32cKnownVectorAndIncrementalExtend") {
    CHECK(crc32c::Value("123456789", 9) == 0xe3069283u);
    CHECK(crc32c::Value("", 0) == 0u);
    CHECK(crc32c::Extend(crc32c::Value("1234", 4), "56789", 5) == 0xe3069283u);
    // Long and misaligned buffers take the wide (hardware) path.
    std::string buf(1000, '\0');
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = char(i * 131 + 7);
    const auto* p = reinterpret_cast<const unsigned char*>(buf.data());
    for (size_t start : {0, 1, 3, 7}) {
      for (size_t n : {0, 1, 8, 15, 16, 63, 500, 993}) {
        CHECK(crc32c::Value(p + start, n) == ReferenceCrc32c(p + start, n));
      }
    }
  }

  TEST_CASE("Crc32cMaskRoundTripsAndChangesTheValue") {
    for (uint32_t v : {0u, 1u, 0xe3069283u, 0xffffffffu, 0xa282ead8u}) {
      CHECK(crc32c::Unmask(crc32c::Mask(v)) == v);
    }
    CHECK(crc32c::Mask(0xe3069283u) != 0xe3069283u);
  }
  TEST_CASE("SequenceNumbersHoldKinesisWidthExactly") {
    // A real Amazon Kinesis number (AWS Lambda documentation): 56 digits, 188
    // bits; hex 2 05bf4e5c2 6 0000000067648a17 00 05c181eea 00000006 2.
    const std::string aws = "49590338271490256608559692538361571095921575989136588898";
    auto seq = SequenceNumber::Parse(aws, "seq");
    REQUIRE(seq.ok());
    CHECK(!seq->fits_128());
    CHECK(ToDecimal(*seq) == aws);
    CHECK(SequenceShardIndex(*seq) == std::optional<uint64_t>(6));
    CHECK(SequenceCounter(*seq) == std::optional<uint64_t>(0x67648a17));
    // Numeric order, not text order.
    auto next =
        SequenceNumber::Parse("49590338271490256608559692538361571095921575989136588899", "s");
    REQUIRE(next.ok());
    CHECK(*seq < *next);
    CHECK(SequenceNumber(kMaxHashKey) < *seq);
    CHECK(SequenceNumber(MakeSequenceNumber(3, 9)) == SequenceNumber(MakeSequenceNumber(3, 9)));
    // The API's widest: 129 digits.
    const std::string widest(129, '9');
    auto w = SequenceNumber::Parse(widest, "seq");
    REQUIRE(w.ok());
    CHECK(ToDecimal(*w) == widest);
    CHECK(*seq < *w);
    const std::string zeros_inside = "1" + std::string(60, '0') + "7";
    CHECK(ToDecimal(SequenceNumber::Parse(zeros_inside, "s").value()) == zeros_inside);
    CHECK(!SequenceNumber::Parse(std::string(130, '9'), "seq").ok());
    CHECK(!SequenceNumber::Parse("0123", "seq").ok());
    CHECK(!SequenceNumber::Parse("12a", "seq").ok());
    CHECK(!SequenceNumber::Parse("", "seq").ok());
    // Local numbers keep their layout; a 128-bit number outside it names no shard.
    CHECK(SequenceShardIndex(SequenceNumber(MakeSequenceNumber(5, 1))) ==
          std::optional<uint64_t>(5));
    CHECK(!SequenceShardIndex(SequenceNumber(uint128(5))));
    CHECK(ToDecimal(SequenceNumber(kMaxHashKey)) == ToDecimal(kMaxHashKey));
  }
}
