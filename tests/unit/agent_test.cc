// kstream-agent: converters field by field (every LOGTOJSON format, CSVTOJSON,
// SINGLELINE, ADDMETADATA), agent.json validation, checkpoints, and the
// tailer on real files (partial lines, multi-line records, rotation by
// rename and copytruncate, restarts from checkpoints), then RunAgent into a
// LocalStore.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/checkpoint.h"
#include "agent/config.h"
#include "agent/convert.h"
#include "agent/tailer.h"
#include "fault_env.h"
#include "test_util.h"

using namespace kstream;
using namespace kstream::agent;
using kstest::Value;

namespace {

// Runs one converter built from a dataProcessingOptions entry (JSON text).
struct Conv {
  explicit Conv(const std::string& option_json, Env* env = Env::Default()) {
    std::vector<std::string> notices;
    auto cfg = ParseAgentConfig(
        R"({"flows":[{"filePattern":"/tmp/x","kinesisStream":"s","dataProcessingOptions":[)" +
            option_json + "]}]}",
        notices);
    REQUIRE_MESSAGE(cfg.ok(), cfg.status().message());
    option = cfg->flows[0].processing.at(0);
    converter = Value(MakeConverter(option, env));
  }
  // The converted text, or "<unmatched>".
  std::string operator()(std::string_view in) {
    std::string out;
    return converter->Convert(in, out) == Outcome::kConverted ? out : "<unmatched>";
  }
  ProcessingOption option;
  std::unique_ptr<Converter> converter;
};

std::string Log(const std::string& format, std::string_view line) {
  return Conv(R"({"optionName":"LOGTOJSON","logFormat":")" + format + "\"}")(line);
}

}  // namespace

TEST_CASE("LOGTOJSON COMMONAPACHELOG: every field, '-' is null") {
  CHECK(
      Log("COMMONAPACHELOG",
          R"(203.0.113.9 - alice [12/Jan/2024:08:15:42 +0000] "POST /api/orders HTTP/1.1" 201 512)") ==
      R"({"host":"203.0.113.9","ident":null,"authuser":"alice","datetime":"12/Jan/2024:08:15:42 +0000","request":"POST /api/orders HTTP/1.1","response":"201","bytes":"512"})");
  CHECK(
      Log("COMMONAPACHELOG",
          R"(web-1.example.com frank - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 304 - trailing)") ==
      R"({"host":"web-1.example.com","ident":"frank","authuser":null,"datetime":"10/Oct/2000:13:55:36 -0700","request":"GET /apache_pb.gif HTTP/1.0","response":"304","bytes":null})");
  CHECK(Log("COMMONAPACHELOG", "not an access log line") == "<unmatched>");
  CHECK(Log("COMMONAPACHELOG", R"(1.2.3.4 - - [10/Oct/2000:13:55:36] "GET /" 200 1)") ==
        "<unmatched>");  // no zone
}

TEST_CASE("LOGTOJSON COMBINEDAPACHELOG: referer and agent") {
  CHECK(
      Log("COMBINEDAPACHELOG",
          R"(198.51.100.23 - - [03/Feb/2024:17:02:11 -0500] "GET /index.html HTTP/2.0" 200 10432 "https://example.com/start" "curl/8.4.0")") ==
      R"({"host":"198.51.100.23","ident":null,"authuser":null,"datetime":"03/Feb/2024:17:02:11 -0500","request":"GET /index.html HTTP/2.0","response":"200","bytes":"10432","referer":"https://example.com/start","agent":"curl/8.4.0"})");
  CHECK(
      Log("COMBINEDAPACHELOG",
          R"J(10.0.0.1 - bob [03/Feb/2024:17:02:11 +0100] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (X11)")J") ==
      R"J({"host":"10.0.0.1","ident":null,"authuser":"bob","datetime":"03/Feb/2024:17:02:11 +0100","request":"GET / HTTP/1.1","response":"200","bytes":"5","referer":null,"agent":"Mozilla/5.0 (X11)"})J");
  // A common-format line lacks the two quoted fields.
  CHECK(Log("COMBINEDAPACHELOG",
            R"(10.0.0.1 - bob [03/Feb/2024:17:02:11 +0100] "GET / HTTP/1.1" 200 5)") ==
        "<unmatched>");
}

TEST_CASE("LOGTOJSON APACHEERRORLOG: module, thread id and client") {
  CHECK(
      Log("APACHEERRORLOG",
          "[Tue Mar 05 14:22:09.123456 2024] [proxy:warn] [pid 4121:tid 139820] [client "
          "192.0.2.44:53122] AH01144: No protocol handler for /x") ==
      R"({"timestamp":"Tue Mar 05 14:22:09.123456 2024","module":"proxy","severity":"warn","processid":"4121","threadid":"139820","client":"192.0.2.44:53122","message":"AH01144: No protocol handler for /x"})");
  CHECK(
      Log("APACHEERRORLOG",
          "[Wed Oct 11 14:32:52 2000] [error] [pid 77] [client 127.0.0.1] client denied") ==
      R"({"timestamp":"Wed Oct 11 14:32:52 2000","module":null,"severity":"error","processid":"77","threadid":null,"client":"127.0.0.1","message":"client denied"})");
  // The Kinesis Agent's pattern has no colon after "client".
  CHECK(Log("APACHEERRORLOG",
            "[Wed Oct 11 14:32:52 2000] [error] [pid 77] [client: 127.0.0.1] x") == "<unmatched>");
}

TEST_CASE("LOGTOJSON SYSLOG and its alias RFC3164SYSLOG; RFC3339SYSLOG") {
  const std::string want =
      R"({"timestamp":"Jun  7 03:14:07","hostname":"web-01","program":"sshd","processid":"2231","message":"Accepted publickey for deploy from 192.0.2.10 port 50122 ssh2"})";
  const char* line =
      "Jun  7 03:14:07 web-01 sshd[2231]: Accepted publickey for deploy from 192.0.2.10 port "
      "50122 ssh2";
  CHECK(Log("SYSLOG", line) == want);
  CHECK(Log("RFC3164SYSLOG", line) == want);
  CHECK(
      Log("SYSLOG", "Dec 24 23:59:01 host CRON: job done - ok") ==
      R"({"timestamp":"Dec 24 23:59:01","hostname":"host","program":"CRON","processid":null,"message":"job done - ok"})");
  CHECK(
      Log("RFC3339SYSLOG",
          "2024-06-07T03:14:07.512+02:00 db-02 postgres[8812]: checkpoint complete: wrote 41 "
          "buffers") ==
      R"({"timestamp":"2024-06-07T03:14:07.512+02:00","hostname":"db-02","program":"postgres","processid":"8812","message":"checkpoint complete: wrote 41 buffers"})");
  CHECK(
      Log("RFC3339SYSLOG", "2024-06-07T03:14:07Z h p: m") ==
      R"({"timestamp":"2024-06-07T03:14:07Z","hostname":"h","program":"p","processid":null,"message":"m"})");
  CHECK(Log("RFC3339SYSLOG", line) == "<unmatched>");
}

TEST_CASE("LOGTOJSON RFC5424SYSLOG: structured data kept, NILVALUE is null") {
  CHECK(
      Log("RFC5424SYSLOG",
          R"(<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"])") ==
      R"({"priority":"165","version":"1","timestamp":"2003-10-11T22:14:15.003Z","hostname":"mymachine.example.com","appname":"evntslog","procid":null,"msgid":"ID47","structureddata":"[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]","message":null})");
  CHECK(
      Log("RFC5424SYSLOG",
          R"(<34>1 2003-10-11T22:14:15.003Z host su 77 - - 'su root' failed [x])") ==
      R"({"priority":"34","version":"1","timestamp":"2003-10-11T22:14:15.003Z","hostname":"host","appname":"su","procid":"77","msgid":null,"structureddata":null,"message":"'su root' failed [x]"})");
  // A ']' escaped inside a parameter value does not end the element.
  CHECK(
      Log("RFC5424SYSLOG", R"(<1>1 - h a p m [id k="a\]b"] msg)") ==
      R"({"priority":"1","version":"1","timestamp":null,"hostname":"h","appname":"a","procid":"p","msgid":"m","structureddata":"[id k=\"a\\]b\"]","message":"msg"})");
}

TEST_CASE("LOGTOJSON matchPattern and customFieldNames") {
  Conv custom(
      R"({"optionName":"LOGTOJSON","logFormat":"COMMONAPACHELOG","matchPattern":"^(\\S+) (\\d+)ms$","customFieldNames":["op","ms"]})");
  CHECK(custom("checkout 42ms") == R"({"op":"checkout","ms":"42"})");
  CHECK(custom("checkout 42ms extra") == "<unmatched>");  // the whole line must match
  Conv renamed(
      R"({"optionName":"LOGTOJSON","logFormat":"SYSLOG","customFieldNames":["t","h","p","pid","m"]})");
  CHECK(renamed("Jun  7 03:14:07 web-01 cron: x") ==
        R"({"t":"Jun  7 03:14:07","h":"web-01","p":"cron","pid":null,"m":"x"})");
  Conv pretty(R"({"optionName":"LOGTOJSON","logFormat":"SYSLOG","jsonFormat":"PRETTYPRINT"})");
  CHECK(pretty("Jun  7 03:14:07 web-01 cron: x") ==
        "{\n  \"timestamp\" : \"Jun  7 03:14:07\",\n  \"hostname\" : \"web-01\",\n  \"program\" : "
        "\"cron\",\n  \"processid\" : null,\n  \"message\" : \"x\"\n}");
}

TEST_CASE("CSVTOJSON: fields in order, missing and trailing empty are null, extra ignored") {
  Conv csv(R"({"optionName":"CSVTOJSON","customFieldNames":["id","user","ms"]})");
  CHECK(csv("17,bob,250") == R"({"id":"17","user":"bob","ms":"250"})");
  CHECK(csv("17,bob") == R"({"id":"17","user":"bob","ms":null})");
  CHECK(csv("17,,250") == R"({"id":"17","user":"","ms":"250"})");
  CHECK(csv("17,bob,") == R"({"id":"17","user":"bob","ms":null})");  // split drops trailing ""
  CHECK(csv("17,bob,250,extra,more") == R"({"id":"17","user":"bob","ms":"250"})");
  CHECK(csv(" 17 , bob ,250") == R"({"id":" 17 ","user":" bob ","ms":"250"})");  // no trimming
  CHECK(csv("lonely") == R"({"id":"lonely","user":null,"ms":null})");
  CHECK(csv("") == R"({"id":"","user":null,"ms":null})");
  CHECK(csv(",,") == R"({"id":null,"user":null,"ms":null})");
  CHECK(csv(R"(say "hi",x,1)") == R"({"id":"say \"hi\"","user":"x","ms":"1"})");
}

TEST_CASE("CSVTOJSON: the delimiter is a Java regex") {
  Conv tab(R"({"optionName":"CSVTOJSON","customFieldNames":["id","user","ms"],"delimiter":"\\t"})");
  CHECK(tab("17\tbob\t250") == R"({"id":"17","user":"bob","ms":"250"})");
  Conv pipe(R"({"optionName":"CSVTOJSON","customFieldNames":["a","b"],"delimiter":"\\|"})");
  CHECK(pipe("x|y") == R"({"a":"x","b":"y"})");
  Conv spaces(
      R"({"optionName":"CSVTOJSON","customFieldNames":["a","b","c"],"delimiter":"\\s*;\\s*"})");
  CHECK(spaces("1 ; 2;3") == R"({"a":"1","b":"2","c":"3"})");
  Conv alternatives(
      R"({"optionName":"CSVTOJSON","customFieldNames":["a","b","c"],"delimiter":"[,;]"})");
  CHECK(alternatives("1;2,3") == R"({"a":"1","b":"2","c":"3"})");
}

TEST_CASE("SINGLELINE: lines trimmed and joined; NO_TRIM, ESCAPE_NEW_LINE") {
  Conv single(R"({"optionName":"SINGLELINE"})");
  CHECK(single("ERROR x\n   at A.b(A.java:3)") == "ERROR xat A.b(A.java:3)");
  CHECK(single("  one line  ") == "one line");
  Conv no_trim(R"({"optionName":"SINGLELINE","parseOptions":["NO_TRIM"]})");
  CHECK(no_trim("a \n  b") == "a   b");
  Conv escaped(R"({"optionName":"SINGLELINE","parseOptions":["ESCAPE_NEW_LINE"]})");
  CHECK(escaped("a\n  b") == "a\\\\nb");
}

TEST_CASE("ADDMETADATA: ts, metadata, data in that order") {
  kstest::FakeClockEnv env(1717730047512);  // 2024-06-07T03:14:07.512Z
  Conv meta(
      R"({"optionName":"ADDMETADATA","metadata":{"env":"prod","n":[1,2.5,true]},"timestamp":"true"})",
      &env);
  CHECK(
      meta("disk ok") ==
      R"({"ts":"2024-06-07T03:14:07.512Z","metadata":{"env":"prod","n":[1,2.5,true]},"data":"disk ok"})");
  Conv no_ts(R"({"optionName":"ADDMETADATA","metadata":"web","timestamp":"false"})", &env);
  CHECK(no_ts("a\"b") == R"({"metadata":"web","data":"a\"b"})");
  Conv pretty(
      R"({"optionName":"ADDMETADATA","metadata":{"env":"prod"},"jsonFormat":"PRETTYPRINT"})", &env);
  CHECK(pretty("x") ==
        "{\n  \"metadata\" : {\n    \"env\" : \"prod\"\n  },\n  \"data\" : \"x\"\n}");
}

TEST_CASE("Converter chain: LOGTOJSON drops or sends unmatched lines as they are") {
  std::vector<std::string> notices;
  auto cfg = Value(ParseAgentConfig(R"({"flows":[{"filePattern":"/tmp/x","kinesisStream":"s",
      "dataProcessingOptions":[{"optionName":"SINGLELINE"},
                               {"optionName":"LOGTOJSON","logFormat":"SYSLOG"}]}]})",
                                    notices));
  auto chain = Value(ConverterChain::Make(cfg.flows[0].processing, Env::Default()));
  bool unmatched = false;
  auto out = chain.Run("Jun  7 03:14:07 h p: multi\n   line", &unmatched);
  REQUIRE(out);
  CHECK(
      *out ==
      R"({"timestamp":"Jun  7 03:14:07","hostname":"h","program":"p","processid":null,"message":"multiline"})");
  CHECK_FALSE(unmatched);
  CHECK_FALSE(chain.Run("garbage", &unmatched));
  CHECK(unmatched);
  cfg.flows[0].processing[1].send_unmatched_raw = true;
  auto raw = Value(ConverterChain::Make(cfg.flows[0].processing, Env::Default()));
  out = raw.Run("  garbage ", &unmatched);
  REQUIRE(out);
  CHECK(*out == "garbage");  // SINGLELINE ran, LOGTOJSON passed it on
  CHECK(unmatched);
}

// ---- Configuration.

TEST_CASE("agent.json: defaults are the Kinesis Agent's; numbers may be strings") {
  std::vector<std::string> notices;
  auto c = Value(ParseAgentConfig(
      R"({"checkpointFile":"/tmp/cp","flows":[{"filePattern":"/var/log/app.log*","kinesisStream":"logs"},
          {"filePattern":"/var/log/b","kinesisStream":"b","maxBufferAgeMillis":"1000",
           "maxBufferSizeRecords":10,"partitionKeyOption":"DETERMINISTIC","initialPosition":"START_OF_FILE",
           "multiLineStartPattern":"^\\d","skipHeaderLines":"2","truncatedRecordTerminator":"..."}]})",
      notices));
  CHECK(notices.empty());
  CHECK(c.checkpoint_file == "/tmp/cp");
  REQUIRE(c.flows.size() == 2);
  const FlowConfig& a = c.flows[0];
  CHECK(a.stream == "logs");
  CHECK(a.partition_key == PartitionKeyOption::kRandom);
  CHECK(a.initial_position == InitialPosition::kEndOfFile);
  CHECK(a.max_buffer_age_ms == 60000);
  CHECK(a.max_buffer_records == 500);
  CHECK(a.max_buffer_bytes == 5242880);
  CHECK(a.truncated_record_terminator == "\n");
  CHECK(a.Id() == "kinesis:logs:/var/log/app.log*");
  const FlowConfig& b = c.flows[1];
  CHECK(b.max_buffer_age_ms == 1000);
  CHECK(b.max_buffer_records == 10);
  CHECK(b.partition_key == PartitionKeyOption::kDeterministic);
  CHECK(b.initial_position == InitialPosition::kStartOfFile);
  CHECK(b.skip_header_lines == 2);
  CHECK(b.truncated_record_terminator == "...");
}

TEST_CASE("agent.json: unknown keys warn, AWS-only keys get one notice") {
  std::vector<std::string> notices;
  auto c = ParseAgentConfig(
      R"({"cloudwatch.emitMetrics":false,"awsAccessKeyId":"AKIA","kinesis.endpoint":"https://x",
          "colour":"blue","flows":[{"filePattern":"/tmp/a","kinesisStream":"s","speed":3,
          "retryMaxBackoffMillis":100,
          "dataProcessingOptions":[{"optionName":"SINGLELINE","shade":1}]}]})",
      notices);
  REQUIRE(c.ok());
  REQUIRE(notices.size() == 4);
  CHECK(notices[0] == "warning: unknown key 'colour' (ignored)");
  CHECK(notices[1] == "warning: unknown key 'flows[0].speed' (ignored)");
  CHECK(notices[2] == "warning: unknown key 'flows[0].dataProcessingOptions[0].shade' (ignored)");
  CHECK(notices[3] ==
        "notice: ignoring settings that only apply on AWS: cloudwatch.emitMetrics, "
        "awsAccessKeyId, kinesis.endpoint");
}

TEST_CASE("agent.json: an invalid value names its key path") {
  auto error = [](const std::string& flow_json) {
    std::vector<std::string> notices;
    auto c = ParseAgentConfig(
        R"({"flows":[{"filePattern":"/tmp/a","kinesisStream":"s")" + flow_json + "}]}", notices);
    REQUIRE_FALSE(c.ok());
    return c.status().message();
  };
  CHECK(error(R"(,"maxBufferSizeRecords":0)") ==
        "flows[0].maxBufferSizeRecords: must be between 1 and 500 (got 0)");
  CHECK(error(R"(,"maxBufferAgeMillis":"soon")") ==
        "flows[0].maxBufferAgeMillis: must be an integer (got \"soon\")");
  CHECK(error(R"(,"maxBufferSizeBytes":6000000)") ==
        "flows[0].maxBufferSizeBytes: must be between 1 and 5242880 (got 6000000)");
  CHECK(error(R"(,"initialPosition":"MIDDLE")") ==
        "flows[0].initialPosition: must be one of START_OF_FILE, END_OF_FILE (got \"MIDDLE\")");
  CHECK(error(R"(,"multiLineStartPattern":"(unclosed")")
            .starts_with("flows[0].multiLineStartPattern: invalid regular expression '(unclosed'"));
  CHECK(
      error(
          R"(,"dataProcessingOptions":[{"optionName":"SINGLELINE"},{"optionName":"LOGTOJSON"}])") ==
      "flows[0].dataProcessingOptions[1].logFormat: is required for LOGTOJSON");
  CHECK(error(R"(,"dataProcessingOptions":[{"optionName":"LOGTOJSON","logFormat":"NGINX"}])")
            .starts_with("flows[0].dataProcessingOptions[0].logFormat: must be one of"));
  CHECK(error(R"(,"dataProcessingOptions":[{"optionName":"CSVTOJSON"}])") ==
        "flows[0].dataProcessingOptions[0].customFieldNames: is required for CSVTOJSON");
  CHECK(
      error(
          R"J(,"dataProcessingOptions":[{"optionName":"LOGTOJSON","logFormat":"SYSLOG","matchPattern":"(a)(b)","customFieldNames":["x"]}])J") ==
      "flows[0].dataProcessingOptions[0]: matchPattern has 2 capture group(s) but 1 field "
      "name(s) are given");
  CHECK(
      error(
          R"(,"dataProcessingOptions":[{"optionName":"LOGTOJSON","logFormat":"SYSLOG","customFieldNames":["x"]}])") ==
      "flows[0].dataProcessingOptions[0].customFieldNames: must name all 5 fields of the log "
      "format (got 1)");
  CHECK(error(R"(,"dataProcessingOptions":[{"optionName":"ADDMETADATA","timestamp":"yes"}])") ==
        "flows[0].dataProcessingOptions[0].timestamp: must be true or false (got \"yes\")");
  CHECK(error(R"(,"dataProcessingOptions":[{"optionName":"UPPERCASE"}])")
            .starts_with("flows[0].dataProcessingOptions[0].optionName: must be one of"));

  std::vector<std::string> notices;
  auto c = ParseAgentConfig(R"({"flows":[{"filePattern":"/var/*/app.log","kinesisStream":"s"}]})",
                            notices);
  CHECK(c.status().message().starts_with(
      "flows[0].filePattern: wildcards are allowed in the file name only"));
  c = ParseAgentConfig(R"({"flows":[{"kinesisStream":"s"}]})", notices);
  CHECK(c.status().message() == "flows[0].filePattern: is required");
  c = ParseAgentConfig(R"({"flows":[{"filePattern":"/a","kinesisStream":"bad/name"}]})", notices);
  CHECK(c.status().message().starts_with("flows[0].kinesisStream: "));
  c = ParseAgentConfig(R"({"checkpointFile":3,"flows":[]})", notices);
  CHECK(c.status().message() == "checkpointFile: must be a string (got 3)");
  c = ParseAgentConfig(R"({"flows":[]})", notices);
  CHECK(c.status().message() == "flows: must hold at least one flow");
  c = ParseAgentConfig(R"({"flows":[)", notices);
  CHECK(c.status().message().starts_with("not valid JSON"));
}

// ---- Checkpoints.

TEST_CASE("Checkpoints round-trip; a damaged file is an error naming it") {
  CheckpointSet set;
  set.flows = {"kinesis:s:/a/*.log"};
  set.files.push_back({"kinesis:s:/a/*.log",
                       "/a/x \"q\".log",
                       2049,
                       131,
                       {1024, 0xfedcba9876543210ull},
                       52311,
                       1700000000000});
  auto back = Value(DecodeCheckpoints(EncodeCheckpoints(set)));
  REQUIRE(back.files.size() == 1);
  CHECK(back.flows == set.flows);
  CHECK(back.files[0].path == "/a/x \"q\".log");
  CHECK(back.files[0].dev == 2049);
  CHECK(back.files[0].inode == 131);
  CHECK(back.files[0].fingerprint == Fingerprint{1024, 0xfedcba9876543210ull});
  CHECK(back.files[0].offset == 52311);
  CHECK(back.files[0].updated_ms == 1700000000000);

  kstest::TempDir dir;
  const std::string path = dir.Sub("cp.json");
  CHECK(Value(LoadCheckpoints(Env::Default(), path)).files.empty());
  REQUIRE(SaveCheckpoints(Env::Default(), path, set).ok());
  CHECK(Value(LoadCheckpoints(Env::Default(), path)).files.size() == 1);
  kstest::WriteFileBytes(path, "{\"version\":1,\"flows\":[],\"files\":[{\"flow\":1}]}");
  auto damaged = LoadCheckpoints(Env::Default(), path);
  REQUIRE_FALSE(damaged.ok());
  CHECK(damaged.status().message().find(path) != std::string::npos);
}

// ---- The tailer on real files.

namespace {

struct Captured {
  uint64_t file;
  std::string data;
  uint64_t end;
  bool truncated;
};

// Records what a tailer sends; acknowledges everything at once.
struct CaptureSink : RecordSink {
  std::vector<Captured> records;
  std::map<uint64_t, uint64_t> marks;
  Status Record(uint64_t file, std::string_view data, uint64_t end, bool truncated) override {
    records.push_back({file, std::string(data), end, truncated});
    marks[file] = end;
    return Status::Ok();
  }
  Status Skip(uint64_t file, uint64_t end) override {
    marks[file] = end;
    return Status::Ok();
  }
  // The records' data joined with '|' (readable in a failed CHECK).
  std::string Data() const {
    std::string out;
    for (const auto& r : records) out += (out.empty() ? "" : "|") + r.data;
    return out;
  }
  void AckAll(Tailer& t) {
    for (auto [f, o] : marks) t.Acknowledge(f, o);
  }
};

void Append(const std::string& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size()));
  ::close(fd);
}

struct TailFixture {
  kstest::TempDir dir;
  kstest::FakeClockEnv env;
  FlowConfig flow;
  TailerOptions options;
  CaptureSink sink;
  TailFixture() {
    flow.file_pattern = dir.Sub("app.log*");
    flow.stream = "s";
    flow.initial_position = InitialPosition::kStartOfFile;
  }
  std::string Path(const std::string& name) const { return dir.Sub(name); }
  // Polls until nothing more is read (bounded).
  void Drain(Tailer& t, bool relist = true) {
    for (int i = 0; i < 50; ++i) {
      auto n = t.Poll(sink, relist, 1 << 20);
      REQUIRE_MESSAGE(n.ok(), n.status().message());
      if (*n == 0 && t.CaughtUp()) return;
    }
    FAIL("tailer did not catch up");
  }
};

}  // namespace

TEST_CASE("Tailer: lines without terminators; a partial last line waits for its newline") {
  TailFixture f;
  Append(f.Path("app.log"), "one\ntwo\r\nthr");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  f.Drain(t);
  CHECK(f.sink.Data() == "one|two\r");
  CHECK(f.sink.records[1].end == 9);
  Append(f.Path("app.log"), "ee\n");
  f.Drain(t);
  CHECK(f.sink.Data() == "one|two\r|three");
  CHECK(t.lines() == 3);
}

TEST_CASE("Tailer: multi-line records by multiLineStartPattern") {
  TailFixture f;
  f.flow.multiline_start_pattern = "\\d{4}-\\d{2}-\\d{2} ";
  Append(f.Path("app.log"),
         "  orphan continuation\n"
         "2024-01-01 ERROR boom\n"
         "java.lang.IllegalStateException: x\n"
         "\tat A.b(A.java:3)\n"
         "2024-01-01 INFO fine\n"
         "2024-01-02 ERROR again\n"
         "\tat C.d(C.java:9)\n");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  f.Drain(t);
  // The last record is held until the next start line or until idle.
  CHECK(f.sink.Data() ==
        "  orphan continuation|2024-01-01 ERROR boom\njava.lang.IllegalStateException: x\n\tat "
        "A.b(A.java:3)|2024-01-01 INFO fine");
  f.env.Advance(kMultiLineFlushMs);
  f.Drain(t);
  REQUIRE(f.sink.records.size() == 4);
  CHECK(f.sink.records[3].data == "2024-01-02 ERROR again\n\tat C.d(C.java:9)");
  CHECK(f.sink.records[3].end == ::lseek(::open(f.Path("app.log").c_str(), O_RDONLY), 0, SEEK_END));
}

TEST_CASE("Tailer: a line longer than the limit keeps its first bytes, marked truncated") {
  TailFixture f;
  f.options.max_record_bytes = 1000;
  Append(f.Path("app.log"), "short\n" + std::string(5000, 'x') + "\nafter\n");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  f.Drain(t);
  REQUIRE(f.sink.records.size() == 3);
  CHECK(f.sink.records[1].data == std::string(1000, 'x'));
  CHECK(f.sink.records[1].truncated);
  CHECK(f.sink.records[1].end == 6 + 5001);
  CHECK(f.sink.records[2].data == "after");
  CHECK_FALSE(f.sink.records[2].truncated);
}

TEST_CASE("Tailer: skipHeaderLines at offset 0 only; END_OF_FILE starts after the last full line") {
  TailFixture f;
  f.flow.skip_header_lines = 1;
  Append(f.Path("app.log"), "id,name\n1,a\n");
  {
    Tailer t(f.flow, f.options, &f.env);
    REQUIRE(t.Start({}).ok());
    f.Drain(t);
    CHECK(f.sink.Data() == "1,a");
  }
  f.sink.records.clear();
  f.flow.initial_position = InitialPosition::kEndOfFile;
  f.flow.file_pattern = f.Path("other*");
  Append(f.Path("other"), "old\nhalf-writ");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  Append(f.Path("other"), "ten\nnew\n");
  f.Drain(t);
  CHECK(f.sink.Data() == "half-written|new");
}

TEST_CASE("Tailer: rotation by rename reads the old file to its end, then the new one") {
  TailFixture f;
  f.flow.file_pattern = f.Path("app.log");  // the rotated name does not match
  Append(f.Path("app.log"), "a1\na2\n");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  f.Drain(t);
  REQUIRE(::rename(f.Path("app.log").c_str(), f.Path("app.log.1").c_str()) == 0);
  Append(f.Path("app.log.1"), "a3\nunterminated");  // the writer has not reopened yet
  Append(f.Path("app.log"), "b1\n");
  f.Drain(t);
  CHECK(f.sink.Data() == "a1|a2|a3|b1");
  // Once the rotated file stops growing it is closed and its last line sent.
  f.env.Advance(kRotateWaitMs);
  f.Drain(t);
  CHECK(f.sink.Data() == "a1|a2|a3|b1|unterminated");
  f.sink.AckAll(t);
  std::vector<FileCheckpoint> cps;
  t.AppendCheckpoints(cps, 0);
  REQUIRE(cps.size() == 1);  // the closed, acknowledged file is forgotten
  CHECK(cps[0].path == f.Path("app.log"));
  CHECK(cps[0].offset == 3);
}

TEST_CASE("Tailer: copytruncate continues in the copy, then the truncated file from 0") {
  TailFixture f;
  Append(f.Path("app.log"), "l1\nl2\n");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  f.Drain(t);
  Append(f.Path("app.log"), "l3\n");  // not read before the copy
  const std::string all = kstest::ReadFileBytes(f.Path("app.log"));
  kstest::WriteFileBytes(f.Path("app.log.1"), all);
  REQUIRE(::truncate(f.Path("app.log").c_str(), 0) == 0);
  Append(f.Path("app.log"), "n1\n");
  f.Drain(t);
  CHECK(f.sink.Data() == "l1|l2|l3|n1");
}

TEST_CASE("Tailer: a new file that only looks like a copy is read after the wait") {
  TailFixture f;
  Append(f.Path("app.log"), "header\nx\n");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  f.Drain(t);
  Append(f.Path("app.log.2"), "header\nx\ny\n");
  f.Drain(t);
  CHECK(f.sink.records.size() == 2);  // held back: a copy about to be truncated?
  f.env.Advance(kCopyWaitMs);
  f.Drain(t);
  CHECK(f.sink.Data() == "header|x|header|x|y");
}

TEST_CASE("Tailer: truncation without a copy restarts at 0") {
  TailFixture f;
  f.flow.file_pattern = f.Path("app.log");
  Append(f.Path("app.log"), "old1\nold2\n");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  f.Drain(t);
  REQUIRE(::truncate(f.Path("app.log").c_str(), 0) == 0);
  Append(f.Path("app.log"), "new\n");
  f.Drain(t);
  CHECK(f.sink.Data() == "old1|old2|new");
  // Truncated and refilled past the old size between two passes: the
  // fingerprint differs.
  REQUIRE(::truncate(f.Path("app.log").c_str(), 0) == 0);
  Append(f.Path("app.log"), "completely different content\n");
  f.Drain(t);
  CHECK(f.sink.records.back().data == "completely different content");
}

TEST_CASE("Tailer: restart resumes at the acknowledged offset; a reused inode is a new file") {
  TailFixture f;
  Append(f.Path("app.log"), "r1\nr2\nr3\n");
  CheckpointSet set;
  {
    Tailer t(f.flow, f.options, &f.env);
    REQUIRE(t.Start({}).ok());
    f.Drain(t);
    t.Acknowledge(f.sink.records[1].file, f.sink.records[1].end);  // r3 not durable
    t.AppendCheckpoints(set.files, 0);
    set.flows.push_back(f.flow.Id());
  }
  f.sink.records.clear();
  Append(f.Path("app.log"), "r4\n");
  {
    Tailer t(f.flow, f.options, &f.env);
    REQUIRE(t.Start(set).ok());
    f.Drain(t);
    CHECK(f.sink.Data() == "r3|r4");
  }
  // Same inode, other content (the fingerprint differs): read from 0.
  f.sink.records.clear();
  kstest::WriteFileBytes(f.Path("app.log"), "other content entirely\n");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start(set).ok());
  f.Drain(t);
  CHECK(f.sink.Data() == "other content entirely");
}

TEST_CASE("Tailer: a file renamed out of the glob while stopped is finished on restart") {
  TailFixture f;
  f.flow.file_pattern = f.Path("app.log");
  Append(f.Path("app.log"), "a1\n");
  CheckpointSet set;
  {
    Tailer t(f.flow, f.options, &f.env);
    REQUIRE(t.Start({}).ok());
    f.Drain(t);
    f.sink.AckAll(t);
    t.AppendCheckpoints(set.files, 0);
    set.flows.push_back(f.flow.Id());
  }
  Append(f.Path("app.log"), "a2\n");
  REQUIRE(::rename(f.Path("app.log").c_str(), f.Path("app.log.1").c_str()) == 0);
  Append(f.Path("app.log"), "b1\n");
  f.sink.records.clear();
  f.options.once = true;
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start(set).ok());
  f.Drain(t);
  CHECK(f.sink.Data() == "a2|b1");
}

// ---- RunAgent into a LocalStore.

TEST_CASE("RunAgent --once: records in the stream, checkpoint at the last complete line") {
  kstest::TestStore ts;
  REQUIRE(ts.store.CreateStream("s", 2, 24).ok());
  const std::string log = ts.dir.Sub("web.log");
  Append(log,
         "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1\n"
         "garbage\n"
         "5.6.7.8 - u [10/Oct/2000:13:55:37 -0700] \"GET /x HTTP/1.0\" 404 -\n"
         "partial");
  AgentConfig config;
  std::vector<std::string> notices;
  config = Value(ParseAgentConfig(R"({"flows":[{"filePattern":")" + log +
                                      R"(","kinesisStream":"s","initialPosition":"START_OF_FILE",
      "partitionKeyOption":"DETERMINISTIC",
      "dataProcessingOptions":[{"optionName":"LOGTOJSON","logFormat":"COMMONAPACHELOG"}]}]})",
                                  notices));
  AgentOptions o;
  o.once = true;
  o.checkpoint_file = ts.dir.Sub("cp/checkpoints.json");
  AgentStats stats;
  o.on_stats = [&](const AgentStats& s) { stats = s; };
  REQUIRE(RunAgent(config, ts.store, o, &ts.env).ok());
  std::vector<std::string> data;
  for (uint64_t shard : {0, 1})
    for (auto& r : kstest::ReadShard(ts.store, "s", shard)) {
      data.push_back(r.data);
      CHECK(r.key.size() == 32);  // hex MD5 of the record
    }
  std::sort(data.begin(), data.end());
  CHECK(
      data ==
      std::vector<std::string>{
          R"({"host":"1.2.3.4","ident":null,"authuser":null,"datetime":"10/Oct/2000:13:55:36 -0700","request":"GET / HTTP/1.0","response":"200","bytes":"1"})",
          R"({"host":"5.6.7.8","ident":null,"authuser":"u","datetime":"10/Oct/2000:13:55:37 -0700","request":"GET /x HTTP/1.0","response":"404","bytes":null})"});
  REQUIRE(stats.flows.size() == 1);
  CHECK(stats.flows[0].lines == 3);
  CHECK(stats.flows[0].records_sent == 2);
  CHECK(stats.flows[0].parse_failures == 1);
  auto cps = Value(LoadCheckpoints(&ts.env, o.checkpoint_file));
  REQUIRE(cps.files.size() == 1);
  CHECK(cps.files[0].offset == kstest::ReadFileBytes(log).size() - 7);  // before "partial"
  // A second agent on the same checkpoint file is refused while one runs.
  agent::CheckpointSet unused;
  (void)unused;
}

TEST_CASE("Tailer: a deleted file is read to its end, then closed and forgotten") {
  TailFixture f;
  Append(f.Path("app.log"), "d1\n");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  f.Drain(t);
  // The writer still has it open: what it writes after the unlink is read.
  int fd = ::open(f.Path("app.log").c_str(), O_WRONLY | O_APPEND);
  REQUIRE(fd >= 0);
  REQUIRE(::unlink(f.Path("app.log").c_str()) == 0);
  REQUIRE(::write(fd, "d2\nd3", 5) == 5);
  ::close(fd);
  f.Drain(t);
  CHECK(f.sink.Data() == "d1|d2");
  f.env.Advance(kRotateWaitMs);
  f.Drain(t);
  CHECK(f.sink.Data() == "d1|d2|d3");
  f.sink.AckAll(t);
  f.Drain(t);
  std::vector<FileCheckpoint> cps;
  t.AppendCheckpoints(cps, 0);
  CHECK(cps.empty());
  CHECK(t.Progress().empty());
}

TEST_CASE("Tailer: a runaway multi-line record keeps its first bytes, marked truncated") {
  TailFixture f;
  f.flow.multiline_start_pattern = "START";
  f.options.max_record_bytes = 100;
  std::string body = "START big\n";
  for (int i = 0; i < 20; ++i) body += "  continuation line " + std::to_string(i) + "\n";
  Append(f.Path("app.log"), body + "START small\nSTART next\n");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  f.Drain(t);
  REQUIRE(f.sink.records.size() == 2);
  CHECK(f.sink.records[0].data == body.substr(0, 100));
  CHECK(f.sink.records[0].truncated);
  CHECK(f.sink.records[0].end == body.size());
  CHECK(f.sink.records[1].data == "START small");
  CHECK_FALSE(f.sink.records[1].truncated);
}

TEST_CASE("Tailer: a full sink pauses cutting records; the lines wait and nothing is lost") {
  struct SlowSink : CaptureSink {
    size_t room = 2;
    bool Full() const override { return records.size() >= room; }
  } sink;
  TailFixture f;
  Append(f.Path("app.log"), "1\n2\n3\n4\n5\n");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  REQUIRE(t.Poll(sink, true, 1 << 20).ok());
  CHECK(sink.Data() == "1|2");
  CHECK_FALSE(t.CaughtUp());  // read, but not all cut into records
  sink.room = 4;
  REQUIRE(t.Poll(sink, false, 1 << 20).ok());
  CHECK(sink.Data() == "1|2|3|4");
  sink.room = 100;
  REQUIRE(t.Poll(sink, false, 1 << 20).ok());
  CHECK(sink.Data() == "1|2|3|4|5");
  CHECK(t.CaughtUp());
}

TEST_CASE("Tailer: copytruncate while stopped: the copy resumes at the checkpoint, the file at 0") {
  TailFixture f;
  Append(f.Path("app.log"), "c1\nc2\n");
  CheckpointSet set;
  {
    Tailer t(f.flow, f.options, &f.env);
    REQUIRE(t.Start({}).ok());
    f.Drain(t);
    f.sink.AckAll(t);
    t.AppendCheckpoints(set.files, 0);
    set.flows.push_back(f.flow.Id());
  }
  Append(f.Path("app.log"), "c3\n");
  kstest::WriteFileBytes(f.Path("app.log.1"), kstest::ReadFileBytes(f.Path("app.log")));
  REQUIRE(::truncate(f.Path("app.log").c_str(), 0) == 0);
  Append(f.Path("app.log"), "n1\n");
  f.sink.records.clear();
  f.options.once = true;
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start(set).ok());
  f.Drain(t);
  std::vector<std::string> got;
  for (const auto& r : f.sink.records) got.push_back(r.data);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"c3", "n1"});
}

TEST_CASE("Tailer: fileFooterPattern ends the reading of its file") {
  TailFixture f;
  f.flow.file_footer_pattern = "--- end of report ---";
  Append(f.Path("app.log"), "r1\n--- end of report ---\nafter the footer\n");
  Tailer t(f.flow, f.options, &f.env);
  REQUIRE(t.Start({}).ok());
  f.Drain(t);
  Append(f.Path("app.log"), "more\n");
  f.Drain(t);
  CHECK(f.sink.Data() == "r1");
  CHECK(f.sink.marks.begin()->second == 25);  // the footer line counts as done
}

TEST_CASE("A fault at every write point of an agent run: no checkpoint runs ahead of the stream") {
  // Each run fails at the N-th file operation of the store or the checkpoint
  // file (ENOSPC, EIO, or a crash that then loses every unsynced byte),
  // until a run gets through. After each, what the checkpoint file says is
  // done must be in the stream (read back on the plain Env), and a second,
  // fault-free run completes the stream.
  constexpr int kLines = 60;
  std::string lines;
  std::vector<uint64_t> ends;
  for (int i = 0; i < kLines; ++i) {
    lines += "line-" + std::to_string(i) + "-" + std::string(i % 17, 'z') + "\n";
    ends.push_back(lines.size());
  }
  for (kstest::Fault fault :
       {kstest::Fault::kCrash, kstest::Fault::kNoSpace, kstest::Fault::kIOError}) {
    int64_t at = 0;
    for (; at < 2000; ++at) {
      kstest::TempDir dir;
      const std::string home = dir.Sub("home"), log = dir.Sub("app.log");
      REQUIRE(LocalStore(Env::Default(), home).CreateStream("s", 2, 24).ok());
      kstest::WriteFileBytes(log, lines);
      std::vector<std::string> notices;
      auto config =
          Value(ParseAgentConfig(R"({"flows":[{"filePattern":")" + log +
                                     R"(","kinesisStream":"s","initialPosition":"START_OF_FILE",
          "maxBufferSizeRecords":10,"publishQueueCapacity":3}]})",
                                 notices));
      AgentOptions o;
      o.once = true;
      o.checkpoint_file = dir.Sub("cp/checkpoints.json");
      kstest::FaultPlanEnv env(at, fault);
      Status s;
      {
        LocalStore store(&env, home);
        s = RunAgent(config, store, o, &env);
      }
      const bool fired = env.fired();
      if (fired) {
        CHECK_MESSAGE(!s.ok(), "fault ", at, " was not reported");
      } else {
        REQUIRE_MESSAGE(s.ok(), s.message());
      }
      if (fault == kstest::Fault::kCrash) env.DropUnsynced();

      LocalStore store(Env::Default(), home);
      auto cps = LoadCheckpoints(Env::Default(), o.checkpoint_file);
      REQUIRE_MESSAGE(cps.ok(), cps.status().message());  // old or new, never torn
      const uint64_t done = cps->files.empty() ? 0 : cps->files[0].offset;
      std::map<std::string, int> in_stream;
      for (uint64_t shard : {0, 1})
        for (auto& r : kstest::ReadShard(store, "s", shard)) ++in_stream[r.data];
      for (int i = 0; i < kLines && ends[i] <= done; ++i)
        CHECK_MESSAGE(in_stream.count("line-" + std::to_string(i) + "-" + std::string(i % 17, 'z')),
                      "fault ", at, ": line ", i, " is checkpointed but not in the stream");
      // A restart on a healthy disk completes the stream.
      REQUIRE(RunAgent(config, store, o, Env::Default()).ok());
      in_stream.clear();
      for (uint64_t shard : {0, 1})
        for (auto& r : kstest::ReadShard(store, "s", shard)) ++in_stream[r.data];
      CHECK_MESSAGE(in_stream.size() == size_t(kLines), "fault ", at);
      if (!fired) break;
    }
    MESSAGE("write points: ", at);
    CHECK(at > 10);  // the matrix really had write points
  }
}
