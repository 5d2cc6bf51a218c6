// lib/io: RecordReader over real pipes, FieldPath and JsonLineParser on
// padded lines, RecordWriter into real files and pipes.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <simdjson.h>

#include "core/text.h"
#include "io/json_input.h"
#include "io/record_reader.h"
#include "io/record_writer.h"
#include "pipe_fixture.h"
#include "test_util.h"

using namespace kstream;
using kstest::Feeder;
using kstest::OutFile;
using kstest::Pipe;
using kstest::Value;

namespace {

struct Got {
  std::string data;
  uint64_t number;
  bool too_long;
};

// Reads records until the end of input, the way the producer loop does.
std::vector<Got> ReadItems(RecordReader& r) {
  std::vector<Got> out;
  RecordReader::Item item;
  do {
    while (r.Next(item)) out.push_back({std::string(item.data), item.number, item.too_long});
  } while (Value(r.Fill()));
  CHECK(r.at_eof());
  return out;
}

// All of input through a pipe written up front (it must fit the pipe buffer),
// so the reader gets it in one read.
std::vector<Got> ReadAllAtOnce(const std::string& input, char delim, size_t max) {
  Pipe p;
  p.Write(input);
  p.CloseWrite();
  RecordReader r(p.r(), delim, max);
  auto got = ReadItems(r);
  CHECK(r.bytes_read() == input.size());
  return got;
}

// A line with RecordReader::kPadding readable bytes after it, as the parser needs.
struct Padded {
  explicit Padded(std::string_view s) : buf(std::string(s) + std::string(64, '\0')), n(s.size()) {}
  std::string_view view() const { return std::string_view(buf).substr(0, n); }
  std::string buf;
  size_t n;
};

Result<std::string> Key(JsonLineParser& p, std::string_view line, std::string_view path) {
  Padded padded(line);
  KS_ASSIGN_OR_RETURN(std::string_view v, p.KeyField(padded.view(), Value(FieldPath::Parse(path))));
  return std::string(v);
}

Status Entry(JsonLineParser& p, std::string_view line, JsonLineParser::Entry& e) {
  Padded padded(line);
  return p.PutEntry(padded.view(), e);
}

std::string MessageOf(const Status& s) {
  return s.message();
}

}  // namespace

TEST_SUITE("io") {
  TEST_CASE("ReaderSplitsOnNewlinesKeepingEmptyRecordsAndAnUnterminatedLastOne") {
    auto got = ReadAllAtOnce("a\nbb\n\nccc", '\n', 100);
    REQUIRE(got.size() == 4);
    const char* want[] = {"a", "bb", "", "ccc"};
    for (size_t i = 0; i < 4; ++i) {
      CHECK(got[i].data == want[i]);
      CHECK(got[i].number == i + 1);
      CHECK(!got[i].too_long);
    }
    CHECK(ReadAllAtOnce("a\n", '\n', 100).size() == 1);  // no empty record after the last \n
    CHECK(ReadAllAtOnce("", '\n', 100).empty());
    auto blank = ReadAllAtOnce("\n\n", '\n', 100);
    REQUIRE(blank.size() == 2);
    CHECK((blank[0].data.empty() && blank[1].data.empty() && blank[1].number == 2));
  }

  TEST_CASE("ReaderSplitsOnNulAndKeepsNewlinesInsideRecords") {
    auto got = ReadAllAtOnce(std::string("x\ny\0\0z", 6), '\0', 100);
    REQUIRE(got.size() == 3);
    CHECK(got[0].data == "x\ny");
    CHECK(got[1].data.empty());
    CHECK(got[2].data == "z");
    CHECK(got[2].number == 3);
  }

  TEST_CASE("ReaderReportsARecordOverTheLimitAndGoesOnWithTheNextOnes") {
    // Exactly the limit is fine; one byte more is too long.
    auto got = ReadAllAtOnce("ok\n" + std::string(10, 'a') + "\n" + std::string(11, 'b') +
                                 "\nafter\n" + std::string(50, 'c'),
                             '\n', 10);
    REQUIRE(got.size() == 5);
    CHECK(got[0].data == "ok");
    CHECK((got[1].data == std::string(10, 'a') && !got[1].too_long));
    CHECK((got[2].too_long && got[2].data.empty() && got[2].number == 3));
    CHECK((got[3].data == "after" && got[3].number == 4 && !got[3].too_long));
    CHECK((got[4].too_long && got[4].number == 5));  // the unterminated last one too
  }

  TEST_CASE("ReaderDropsALongLineSpanningManyReadsAndResumesAfterIt") {
    // The buffer holds max(4 * limit, 4 MiB): a 10 MiB line cannot fit, so it
    // is reported before its end arrives and the rest is skipped read by read.
    const size_t limit = 1 << 20;
    for (size_t chunk : {size_t(4096), size_t(65536), size_t(1 << 20)}) {
      CAPTURE(chunk);
      std::string input = "first\n" + std::string(10 << 20, 'x') + "\nnext\n" +
                          std::string(limit + 1, 'y') + "\n" + std::string(limit, 'z') + "\nlast";
      Feeder feed(input, chunk);
      RecordReader r(feed.fd(), '\n', limit);
      auto got = ReadItems(r);
      REQUIRE(got.size() == 6);
      CHECK(got[0].data == "first");
      CHECK((got[1].too_long && got[1].number == 2));
      CHECK((got[2].data == "next" && got[2].number == 3));
      CHECK((got[3].too_long && got[3].number == 4));
      CHECK((got[4].data == std::string(limit, 'z') && !got[4].too_long));
      CHECK((got[5].data == "last" && got[5].number == 6));
      CHECK(r.bytes_read() == input.size());
    }
  }

  TEST_CASE("ReaderEndsInsideALongUnterminatedLastLine") {
    Feeder feed("a\n" + std::string(6 << 20, 'x'), 100000);
    RecordReader r(feed.fd(), '\n', 1000);
    auto got = ReadItems(r);
    REQUIRE(got.size() == 2);
    CHECK(got[0].data == "a");
    CHECK((got[1].too_long && got[1].number == 2));
  }

  TEST_CASE("WaitReadableSeesInputAndTheOtherFd") {
    Pipe in, other;
    RecordReader r(in.r(), '\n', 100);
    CHECK(!r.WaitReadable(0));
    CHECK(!r.WaitReadable(20));
    CHECK(r.WaitReadableOr(other.r(), 20) == 0);
    CHECK(r.WaitReadableOr(-1, 0) == 0);

    other.Write("x");
    CHECK(r.WaitReadableOr(other.r(), 1000) == RecordReader::kOtherReady);
    CHECK(r.WaitReadableOr(-1, 0) == 0);  // -1: the other fd is ignored
    in.Write("line\n");
    CHECK(r.WaitReadable(1000));
    CHECK(r.WaitReadableOr(other.r(), 0) ==
          (RecordReader::kInputReady | RecordReader::kOtherReady));

    RecordReader::Item item;
    CHECK(!r.Next(item));
    REQUIRE(Value(r.Fill()));
    REQUIRE(r.Next(item));
    CHECK(item.data == "line");
    CHECK(!r.WaitReadable(0));
    in.CloseWrite();  // a hang-up is readable: read() reports the end
    CHECK(r.WaitReadable(1000));
    CHECK(!Value(r.Fill()));
    CHECK(r.at_eof());
    CHECK((r.WaitReadableOr(other.r(), 0) & RecordReader::kInputReady) != 0);
  }

  TEST_CASE("FieldPathSplitsOnDotsAndUnescapesEscapedDots") {
    using V = std::vector<std::string>;
    CHECK(Value(FieldPath::Parse("id")).keys() == V{"id"});
    CHECK(Value(FieldPath::Parse("user.id")).keys() == V{"user", "id"});
    CHECK(Value(FieldPath::Parse("a\\.b.c")).keys() == V{"a.b", "c"});
    CHECK(Value(FieldPath::Parse("a\\b")).keys() == V{"a\\b"});  // only "\." is an escape
    CHECK(Value(FieldPath::Parse("x\\.")).keys() == V{"x."});
    CHECK(Value(FieldPath::Parse("a\\.b.c")).text() == "a\\.b.c");
    CHECK(Value(FieldPath::Parse("\\")).keys() == V{"\\"});  // a lone backslash is a key
    for (const char* bad : {"", ".", "a.", ".a", "a..b", "a.b."}) {
      CAPTURE(bad);
      auto p = FieldPath::Parse(bad);
      REQUIRE(!p.ok());
      CHECK(p.status().code() == StatusCode::kInvalidArgument);
      CHECK(MessageOf(p.status()).find("invalid field path") != std::string::npos);
    }
  }

  TEST_CASE("KeyFieldReturnsScalarsAsKeysAndRejectsTheRest") {
    JsonLineParser p;
    CHECK(Value(Key(p, R"({"k":"abc"})", "k")) == "abc");
    CHECK(Value(Key(p, R"({"k":"a\"b\u00e9"})", "k")) == "a\"b\xc3\xa9");
    CHECK(Value(Key(p, R"({"k":42})", "k")) == "42");
    CHECK(Value(Key(p, R"({"k":-7})", "k")) == "-7");
    CHECK(Value(Key(p, R"({"k":18446744073709551615})", "k")) == "18446744073709551615");
    CHECK(Value(Key(p, R"({"k":true})", "k")) == "true");
    CHECK(Value(Key(p, R"({"k":false})", "k")) == "false");
    CHECK(Value(Key(p, R"({"user":{"id":"u1","n":2},"k":1})", "user.id")) == "u1");
    CHECK(Value(Key(p, R"({"a.b":{"c":"dotted"}})", "a\\.b.c")) == "dotted");

    auto fails = [&](std::string_view line, std::string_view path, std::string_view why) {
      auto r = Key(p, line, path);
      REQUIRE(!r.ok());
      CHECK(r.status().code() == StatusCode::kInvalidArgument);
      CHECK_MESSAGE(MessageOf(r.status()).find(why) != std::string::npos, r.status().message());
    };
    fails(R"({"user":{}})", "user.id", "'user.id' is missing");
    fails(R"({"user":"x"})", "user.id", "missing");  // not an object on the way
    fails(R"([1,2])", "k", "missing");
    fails(R"({"k":null})", "k", "not a string, number or boolean");
    fails(R"({"k":[1]})", "k", "not a string, number or boolean");
    fails(R"({"k":{"a":1}})", "k", "not a string, number or boolean");
    fails(R"({"k":)", "k", "invalid JSON");
    fails("plain text", "k", "invalid JSON");
    fails("", "k", "invalid JSON");
    fails(R"({"k":"a"} {"k":"b"})", "k", "invalid JSON");  // one document per line
  }

  TEST_CASE("PutEntryDecodesValidEntries") {
    JsonLineParser p;
    JsonLineParser::Entry e;
    REQUIRE(Entry(p, R"({"PartitionKey":"pk","Data":"aGVsbG8="})", e).ok());
    CHECK(e.partition_key == "pk");
    CHECK(e.data == "hello");
    CHECK(!e.explicit_hash_key);

    REQUIRE(Entry(p, R"({"Data":"","PartitionKey":"k","ExplicitHashKey":"123"})", e).ok());
    CHECK(e.data.empty());
    CHECK(e.explicit_hash_key == std::optional<uint128>(123));
    REQUIRE(Entry(p,
                  R"({"PartitionKey":"k","Data":"AA==","ExplicitHashKey":)"
                  R"("340282366920938463463374607431768211455"})",
                  e)
                .ok());
    CHECK(e.explicit_hash_key == std::optional<uint128>(kMaxHashKey));
    CHECK(e.data == std::string(1, '\0'));
    // A later entry without the field does not inherit the previous one's.
    REQUIRE(Entry(p, R"({"PartitionKey":"k","Data":"eA=="})", e).ok());
    CHECK(!e.explicit_hash_key);
  }

  TEST_CASE("PutEntryRejectsMalformedEntries") {
    JsonLineParser p;
    JsonLineParser::Entry e;
    auto fails = [&](std::string_view line, std::string_view why) {
      Status s = Entry(p, line, e);
      REQUIRE(!s.ok());
      CHECK(s.code() == StatusCode::kInvalidArgument);
      CHECK_MESSAGE(s.message().find(why) != std::string::npos, s.message());
    };
    fails("nope", "invalid JSON");
    fails(R"(["PartitionKey"])", "not a JSON object");
    fails(R"({"Data":"eA=="})", "no string PartitionKey");
    fails(R"({"PartitionKey":5,"Data":"eA=="})", "no string PartitionKey");
    fails(R"({"PartitionKey":"k"})", "no string Data");
    fails(R"({"PartitionKey":"k","Data":null})", "no string Data");
    fails(R"({"PartitionKey":"k","Data":"aGVsbG8"})", "base64");  // padding missing
    fails(R"({"PartitionKey":"k","Data":"a b="})", "base64");
    fails(R"({"PartitionKey":"k","Data":"!!!!"})", "base64");
    fails(R"({"PartitionKey":"k","Data":"eA==","ExplicitHashKey":7})", "must be a string");
    for (const char* bad : {"", "-1", "01", "1.5", "340282366920938463463374607431768211456"}) {
      CAPTURE(bad);
      fails(std::string(R"({"PartitionKey":"k","Data":"eA==","ExplicitHashKey":")") + bad + "\"}",
            "ExplicitHashKey");
    }
    fails(R"({"PartitionKey":"k","Data":"eA==","Foo":1})", "unknown field 'Foo'");
    fails(R"({"PartitionKey":"k","Data":"eA==","partitionkey":"x"})", "unknown field");
  }

  TEST_CASE("PutEntryAcceptsWhatRecordWriterJsonProduces") {
    OutFile out;
    RecordWriter w(out.fd(), OutputFormat::kJson);
    const std::string bin("\x00\xff\n\"", 4);
    REQUIRE(w.Write(3, {MakeSequenceNumber(3, 9), 1700000000123, uint128(77), "key\"1", bin}));
    REQUIRE(w.Write(0, {MakeSequenceNumber(0, 1), 5, std::nullopt, "k2", ""}));
    REQUIRE(w.Flush().ok());
    auto lines = kstest::Split(out.Contents());
    REQUIRE(lines.size() == 2);
    JsonLineParser p;
    JsonLineParser::Entry e;
    REQUIRE_MESSAGE(Entry(p, lines[0], e).ok(), lines[0]);
    CHECK(e.partition_key == "key\"1");
    CHECK(e.data == bin);
    CHECK(e.explicit_hash_key == std::optional<uint128>(77));
    REQUIRE(Entry(p, lines[1], e).ok());
    CHECK(e.partition_key == "k2");
    CHECK(e.data.empty());
    CHECK(!e.explicit_hash_key);
  }

  TEST_CASE("WriterWritesLinesAndNulTerminatedRecordsOnlyWhenFlushed") {
    OutFile lines, nul;
    RecordWriter wl(lines.fd(), OutputFormat::kLines), wn(nul.fd(), OutputFormat::kNull);
    for (const char* d : {"a", "", "b\nc"}) {
      REQUIRE(wl.Write(0, {1, 0, std::nullopt, "k", d}));
      REQUIRE(wn.Write(0, {1, 0, std::nullopt, "k", d}));
    }
    wl.Append("raw text\n");
    CHECK(wl.buffered() == 16);
    CHECK(lines.Contents().empty());  // small writes stay buffered
    REQUIRE(wl.Flush().ok());
    REQUIRE(wn.Flush().ok());
    CHECK(wl.buffered() == 0);
    CHECK(lines.Contents() == "a\n\nb\nc\nraw text\n");
    CHECK(nul.Contents() == std::string("a\0\0b\nc\0", 7));
    CHECK(!wl.closed());
  }

  TEST_CASE("WriterFlushesByItselfOnceTheBufferIsLarge") {
    OutFile out;
    RecordWriter w(out.fd(), OutputFormat::kLines);
    const std::string data(1000, 'd');
    size_t written = 0;
    while (out.Contents().empty()) {
      REQUIRE(w.Write(0, {1, 0, std::nullopt, "k", data}));
      written += data.size() + 1;
      REQUIRE(written < (1 << 20));
    }
    CHECK(out.Contents().size() == written);
    CHECK(w.buffered() == 0);
  }

  TEST_CASE("WriterJsonEnvelopeParsesBackToTheRecord") {
    OutFile out;
    RecordWriter w(out.fd(), OutputFormat::kJson);
    std::string all_bytes;
    for (int c = 0; c < 256; ++c) all_bytes += char(c);
    const std::string bad_utf8_key = "k\xff\"\\\n";
    REQUIRE(w.Write(
        7, {MakeSequenceNumber(7, 42), 1700000000123, std::nullopt, bad_utf8_key, all_bytes}));
    REQUIRE(w.Write(12, {MakeSequenceNumber(12, 0), 1700000000000, kMaxHashKey, "\xc3\xa9", "x"}));
    REQUIRE(w.Flush().ok());
    auto env = kstest::ParseEnvelopes(out.Contents());
    REQUIRE(env.size() == 2);
    CHECK(env[0].shard == 7);
    CHECK(env[0].sequence == MakeSequenceNumber(7, 42));
    CHECK(env[0].key == "k\xef\xbf\xbd\"\\\n");  // the invalid byte became U+FFFD
    CHECK(env[0].arrival_ms == 1700000000123);
    CHECK(!env[0].explicit_hash_key);
    CHECK(env[0].data == all_bytes);
    CHECK(env[1].shard == 12);
    CHECK(env[1].key == "\xc3\xa9");
    CHECK(env[1].arrival_ms == 1700000000000);
    CHECK(env[1].explicit_hash_key == std::optional<uint128>(kMaxHashKey));
    CHECK(env[1].data == "x");
    const std::string text = out.Contents();
    CHECK(text.find("\"ShardId\":\"shardId-000000000007\"") != std::string::npos);
    CHECK(text.find("\"ApproximateArrivalTimestamp\":1700000000.123,") != std::string::npos);
  }

  TEST_CASE("WriterToAPipeWithoutReaderIsClosedNotFailed") {
    Pipe p;
    p.CloseRead();
    RecordWriter w(p.w(), OutputFormat::kLines);
    REQUIRE(w.Write(0, {1, 0, std::nullopt, "k", "x"}));
    CHECK(w.Flush().ok());
    CHECK(w.closed());
    CHECK(!w.Write(0, {1, 0, std::nullopt, "k", "y"}));
    CHECK(w.Flush().ok());
  }

  TEST_CASE("WriterReportsOtherWriteErrors") {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    RecordWriter w(fd, OutputFormat::kLines);
    REQUIRE(w.Write(0, {1, 0, std::nullopt, "k", "x"}));
    Status s = w.Flush();
    CHECK(!s.ok());
    CHECK(s.message().find("write standard output") != std::string::npos);
    CHECK(!w.closed());
    CHECK(w.buffered() == 0);
    CHECK(!w.Flush().ok());  // still failed: later output cannot be trusted
    ::close(fd);
  }

  TEST_CASE("WriterKeepsAWriteErrorMetWhileFlushingByItself") {
    const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    RecordWriter w(fd, OutputFormat::kLines);
    const std::string data(1000, 'd');
    int writes = 0;
    while (w.Write(0, {1, 0, std::nullopt, "k", data})) REQUIRE(++writes < 1000);
    CHECK(!w.closed());
    Status s = w.Flush();
    CHECK(!s.ok());
    CHECK(s.message() == "write standard output: No space left on device");
    ::close(fd);
  }
}
