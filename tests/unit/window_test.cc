// lib/window: input parsing, time formats, --where, sketches, window engines.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "window/flags.h"
#include "window/hash.h"
#include "window/hll.h"
#include "window/processor.h"
#include "window/quantile.h"
#include "window/topk.h"

using namespace kstream;
using namespace kstream::window;

namespace {

FieldPath Path(const std::string& p) {
  return FieldPath::Parse(p).value();
}
TimeFormat Format(const std::string& f) {
  return TimeFormat::Parse(f).value();
}

// Parses one line with the given fields; returns the values (padded input).
std::vector<FieldValue> ParseJson(const std::vector<std::string>& paths, const std::string& line,
                                  Status* status = nullptr, std::string* keep = nullptr) {
  FieldSet fields;
  for (const auto& p : paths) fields.Add(Path(p));
  static std::unique_ptr<RecordParser> parser;
  parser = NewJsonParser(fields);
  static std::string buf;
  buf = line + std::string(64, '\0');
  if (keep) *keep = buf;
  std::vector<FieldValue> values;
  bool header;
  Status s = parser->Parse(std::string_view(buf.data(), line.size()), values, &header);
  if (status)
    *status = s;
  else
    REQUIRE_MESSAGE(s.ok(), s.message());
  return values;
}

// Runs a config over lines (processing time = `now` for each) and returns
// the output lines.
std::vector<std::string> Run(WindowFlags flags, const std::vector<std::string>& lines,
                             int64_t now = 0) {
  if (!flags.time_field.empty()) flags.time_format = "epoch_ms";  // Ev() times are ms
  auto config = ConfigFromFlags(flags);
  REQUIRE_MESSAGE(config.ok(), config.status().message());
  auto p = Processor::Create(*config);
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  for (const auto& line : lines) {
    std::string padded = line + std::string(64, '\0');
    Processor::Outcome outcome;
    Status s = (*p)->Add(std::string_view(padded.data(), line.size()), now, outcome);
    REQUIRE_MESSAGE(s.ok(), s.message());
  }
  (*p)->engine().Finish();
  std::vector<std::string> out;
  std::string text = (*p)->engine().output();
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

std::string Ev(int64_t ts_ms, const std::string& key, double v = 1) {
  char buf[128];
  snprintf(buf, sizeof buf, R"({"ts":%lld,"k":"%s","v":%g})", static_cast<long long>(ts_ms),
           key.c_str(), v);
  return buf;
}

bool Where(const std::string& expr, const std::string& line) {
  FieldSet fields;
  auto e = ParseWhere(expr, fields);
  REQUIRE_MESSAGE(e.ok(), e.status().message());
  auto parser = NewJsonParser(fields);
  std::string buf = line + std::string(64, '\0');
  std::vector<FieldValue> values;
  bool header;
  REQUIRE(parser->Parse(std::string_view(buf.data(), line.size()), values, &header).ok());
  return (*e)->Eval(values);
}

int64_t Ms(const TimeFormat& f, FieldValue::Kind kind, std::string_view text) {
  int64_t ms = -1;
  FieldValue v{kind, text};
  REQUIRE_MESSAGE(f.ToMillis(v, ms), std::string(text));
  return ms;
}

}  // namespace

TEST_SUITE("window") {
  TEST_CASE("JsonFieldsByPathKeepStringsNumbersAndMissing") {
    auto v =
        ParseJson({"a", "u.id", "n", "missing", "u", "flag", "nul", "arr"},
                  R"({"a":"x\"y","u":{"id":42},"n":-1.50,"flag":true,"nul":null,"arr":[1, 2]})");
    CHECK(v[0].kind == FieldValue::Kind::kString);
    CHECK(v[0].text == "x\"y");
    CHECK(v[1].kind == FieldValue::Kind::kNumber);
    CHECK(v[1].text == "42");
    double d;
    CHECK((v[2].ToNumber(d) && d == -1.5));
    CHECK(v[2].text == "-1.5");
    CHECK(!v[3].present());
    CHECK(v[4].kind == FieldValue::Kind::kRaw);
    CHECK(v[4].text == R"({"id":42})");
    CHECK(v[5].text == "true");
    CHECK(v[6].kind == FieldValue::Kind::kNull);
    CHECK(v[7].text == "[1,2]");
  }

  TEST_CASE("MalformedJsonAndNonObjectsAreErrors") {
    for (const std::string line : {"not json", R"({"a":1,)", "[1,2]", R"({"a":1} x)", "42"}) {
      Status s;
      ParseJson({"a"}, line, &s);
      CHECK_MESSAGE(s.code() == StatusCode::kInvalidArgument, line);
    }
  }

  TEST_CASE("CsvSplitHandlesQuotesEmptyFieldsAndTrailingDelimiters") {
    std::vector<std::string_view> cols;
    std::string scratch;
    REQUIRE(SplitCsvLine(R"(a,"b,c","say ""hi""",,x,)", ',', cols, scratch));
    CHECK(cols == std::vector<std::string_view>{"a", "b,c", "say \"hi\"", "", "x", ""});
    REQUIRE(SplitCsvLine("", ',', cols, scratch));
    CHECK(cols.size() == 1);
    CHECK(!SplitCsvLine(R"(a,"open)", ',', cols, scratch));
    REQUIRE(SplitCsvLine("1\t2", '\t', cols, scratch));
    CHECK(cols.size() == 2);
  }

  TEST_CASE("CsvColumnsByHeaderNumbersDetectedMissingColumnIsFatal") {
    FieldSet fields;
    fields.Add(Path("temperature"));
    fields.Add(Path("Device_Id"));
    auto csv = NewCsvParser(fields, {});
    std::vector<FieldValue> v;
    bool header = false;
    std::string h = "Device_Id,temperature,timestamp" + std::string(64, '\0');
    REQUIRE(csv->Parse(std::string_view(h.data(), h.size() - 64), v, &header).ok());
    CHECK(header);
    std::string row = "1,65.5,2016-03-25 01:01:20\r" + std::string(64, '\0');
    REQUIRE(csv->Parse(std::string_view(row.data(), row.size() - 64), v, &header).ok());
    CHECK(!header);
    CHECK(v[0].kind == FieldValue::Kind::kNumber);
    CHECK(v[0].text == "65.5");
    CHECK(v[1].text == "1");
    std::string short_row = "1,2" + std::string(64, '\0');
    CHECK(csv->Parse(std::string_view(short_row.data(), 3), v, &header).code() ==
          StatusCode::kInvalidArgument);
    FieldSet other;
    other.Add(Path("nope"));
    auto bad = NewCsvParser(other, {});
    CHECK(bad->Parse(std::string_view(h.data(), h.size() - 64), v, &header).code() ==
          StatusCode::kNotFound);
  }

  TEST_CASE("TimeFormatsAutoEpochIsoAndPatterns") {
    auto aut = Format("auto");
    CHECK(Ms(aut, FieldValue::Kind::kNumber, "1216674828") == 1216674828000);
    CHECK(Ms(aut, FieldValue::Kind::kString, "1216674828.5") == 1216674828500);
    CHECK(Ms(aut, FieldValue::Kind::kNumber, "1700000000123") == 1700000000123);
    CHECK(Ms(aut, FieldValue::Kind::kString, "2016-03-25 01:01:20") == 1458867680000);
    CHECK(Ms(aut, FieldValue::Kind::kString, "2016-03-25T01:01:20.250+01:00") == 1458864080250);
    auto pat = Format("%d/%b/%Y:%H:%M:%S %z");
    CHECK(Ms(pat, FieldValue::Kind::kString, "10/Oct/2000:13:55:36 -0700") == 971211336000);
    auto us = Format("%m/%d/%y %I:%M:%S.%f %p");
    CHECK(Ms(us, FieldValue::Kind::kString, "03/25/16 01:01:20.5 PM") == 1458910880500);
    auto epoch = Format("%s");
    CHECK(Ms(epoch, FieldValue::Kind::kString, "1458867680") == 1458867680000);
    int64_t ms;
    CHECK(!aut.ToMillis({FieldValue::Kind::kString, "yesterday"}, ms));
    CHECK(!pat.ToMillis({FieldValue::Kind::kString, "10/Oct/2000"}, ms));
    // Found by fuzz/text_fuzz.cc: a long %s overflowed the conversion to ms.
    CHECK(!epoch.ToMillis({FieldValue::Kind::kString, "300000819507531774"}, ms));
    CHECK(!TimeFormat::Parse("%Q").ok());
    CHECK(!TimeFormat::Parse("sometimes").ok());
  }

  TEST_CASE("WherePrecedenceAndOperators") {
    const std::string r = R"({"a":1,"b":2,"s":"Open-Source rocks","code":"200","n":null})";
    CHECK(Where("a == 1 || b == 3 && a == 2", r));     // && binds tighter than ||
    CHECK(!Where("(a == 1 || b == 3) && a == 2", r));  // parentheses
    CHECK(Where("!a == 2", r));                        // ! negates the comparison
    CHECK(!Where("!(a == 1) || !b", r));
    CHECK(Where(R"(s contains "Open-Source")", r));
    CHECK(Where(R"(s startswith 'Open' && s endswith "rocks")", r));
    CHECK(Where(R"(s =~ "^Open-[A-Z]")", r));
    CHECK(!Where(R"(s =~ "^rocks")", r));
    CHECK(Where("code == 200 && code > 150 && code < 1000", r));  // numeric string vs number
    CHECK(Where(R"(code == "200")", r));
    CHECK(Where("b >= 2 && b <= 2 && a != b", r));
    CHECK(!Where("missing == 1", r));
    CHECK(!Where("missing != 1", r));  // a missing field compares false
    CHECK(Where("missing == null && n == null && a != null", r));
    CHECK(Where("a && s && !missing", r));
    CHECK(Where("`a` == 1", r));
  }

  TEST_CASE("WhereErrorsNameTheColumn") {
    FieldSet fields;
    for (const std::string bad :
         {"a ==", "(a == 1", "a == 1 )", "a # 1", "", "s =~ b", R"(s =~ "(")", R"(s == "open)"}) {
      auto e = ParseWhere(bad, fields);
      REQUIRE_MESSAGE(!e.ok(), bad);
      CHECK(e.status().message().find("--where") == 0);
    }
    auto e = ParseWhere("(a == 1", fields);
    CHECK(e.status().message().find("column 8") != std::string::npos);
  }

  TEST_CASE("HyperLogLogIsExactWhenSmallAndWithinTwoPercentWhenLarge") {
    HyperLogLog small;
    for (int i = 0; i < 2000; ++i) small.Add(HashBytes("v" + std::to_string(i % 1500)));
    CHECK(small.Estimate() == 1500);
    for (int n : {5000, 100000, 1000000}) {
      HyperLogLog h;
      for (int i = 0; i < n; ++i) h.Add(HashBytes("user-" + std::to_string(i)));
      CHECK(std::fabs(h.Estimate() - n) / n < 0.02);
    }
    HyperLogLog a, b;
    for (int i = 0; i < 60000; ++i) (i % 2 ? a : b).Add(HashBytes(std::to_string(i)));
    a.Merge(b);
    CHECK(std::fabs(a.Estimate() - 60000) / 60000 < 0.02);
  }

  TEST_CASE("TopKExactUnderCapacityAndFindsHeavyHittersOver") {
    TopK t(8);
    for (int i = 0; i < 5; ++i) t.Add("a");
    for (int i = 0; i < 3; ++i) t.Add("b");
    t.Add("c");
    auto top = t.Top(2);
    REQUIRE(top.size() == 2);
    CHECK(top[0]->value == "a");
    CHECK(top[0]->count == 5);
    CHECK(top[1]->value == "b");
    TopK big(64);
    std::mt19937 rng(7);
    for (int i = 0; i < 100000; ++i) {
      if (i % 10 == 0)
        big.Add("hot1");
      else if (i % 20 == 1)
        big.Add("hot2");
      else
        big.Add("cold" + std::to_string(rng() % 5000));
    }
    auto h = big.Top(2);
    CHECK(h[0]->value == "hot1");
    CHECK(h[1]->value == "hot2");
    CHECK(h[0]->count >= 10000);
    CHECK(h[0]->count <= 10000 + 100000 / 64);
    TopK copy = big;
    CHECK(copy.Top(1)[0]->value == "hot1");
    copy.Add("hot1");
    CHECK(copy.Top(1)[0]->count == h[0]->count + 1);
  }

  TEST_CASE("QuantileRankErrorWithinEpsilonAndExactWhenSmall") {
    QuantileSketch small;
    for (int i = 10; i >= 1; --i) small.Add(i);
    CHECK(small.Quantile(0) == 1);
    CHECK(small.Quantile(0.5) == 5);
    CHECK(small.Quantile(0.99) == 10);
    std::mt19937_64 rng(42);
    std::vector<double> all;
    QuantileSketch q, a, b;
    for (int i = 0; i < 300000; ++i) {
      const double v = std::floor(std::exp(double(rng() % 100000) / 10000.0));  // skewed, ties
      all.push_back(v);
      q.Add(v);
      (i % 3 ? a : b).Add(v);
    }
    a.Merge(b);
    std::sort(all.begin(), all.end());
    const double n = double(all.size());
    for (QuantileSketch* s : {&q, &a}) {
      for (double p : {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
        const double v = s->Quantile(p);
        const double lo = double(std::lower_bound(all.begin(), all.end(), v) - all.begin());
        const double hi = double(std::upper_bound(all.begin(), all.end(), v) - all.begin());
        const double rank = std::max(1.0, std::ceil(p * n));
        const double err = rank < lo + 1 ? lo + 1 - rank : rank > hi ? rank - hi : 0;
        CHECK_MESSAGE(err <= 0.005 * n, "p=" << p << " err=" << err);
      }
    }
    CHECK(q.tuples() < 5000);
  }

  TEST_CASE("TumblingWindowsAlignToTheEpochAndCloseOnTheWatermark") {
    WindowFlags f;
    f.tumbling = "5s";
    f.time_field = "ts";
    f.group_by = {"k"};
    f.sum = {"v"};
    f.count = true;
    auto out = Run(f, {Ev(4999, "a"), Ev(5000, "a", 2), Ev(1000, "b", 3), Ev(12000, "a", 4)});
    REQUIRE(out.size() == 3);
    CHECK(
        out[0] ==
        R"({"window_start":"1970-01-01T00:00:00.000Z","window_end":"1970-01-01T00:00:05.000Z","k":"a","count":1,"sum_v":1})");
    CHECK(
        out[1].find(
            R"("window_start":"1970-01-01T00:00:05.000Z","window_end":"1970-01-01T00:00:10.000Z","k":"a","count":1,"sum_v":2)") !=
        std::string::npos);
    CHECK(out[2].find(R"("k":"a","count":1,"sum_v":4)") !=
          std::string::npos);  // b at 1000 was late
  }

  TEST_CASE("LateRecordsAreRefusedUnlessWithinAllowedLateness") {
    WindowFlags f;
    f.tumbling = "10s";
    f.time_field = "ts";
    f.allowed_lateness = "5s";
    auto out =
        Run(f, {Ev(1000, "a"), Ev(12000, "a"), Ev(2000, "a"), Ev(16000, "a"), Ev(3000, "a")});
    REQUIRE(out.size() == 2);
    CHECK(out[0].find(R"("count":2)") !=
          std::string::npos);  // 1000 and 2000; 3000 came after 16000
    CHECK(out[1].find(R"("count":2)") != std::string::npos);
  }

  TEST_CASE("SlidingWindowsHoldEachRecordSizeOverSlideTimes") {
    WindowFlags f;
    f.sliding = "10s";
    f.every = "5s";
    f.time_field = "ts";
    auto out = Run(f, {Ev(7000, "a"), Ev(12000, "a")});
    REQUIRE(out.size() == 3);  // [0,10) [5,15) [10,20)
    CHECK(out[0].find(R"("window_start":"1970-01-01T00:00:00.000Z")") != std::string::npos);
    CHECK(out[0].find(R"("count":1)") != std::string::npos);
    CHECK(out[1].find(R"("count":2)") != std::string::npos);
    CHECK(out[2].find(R"("count":1)") != std::string::npos);
  }

  TEST_CASE("SessionsPerKeyMergeWhenARecordBridgesThem") {
    WindowFlags f;
    f.session = "10s";
    f.time_field = "ts";
    f.allowed_lateness = "1m";  // nothing is late here
    f.group_by = {"k"};
    f.sum = {"v"};
    auto out = Run(f, {Ev(0, "a", 1), Ev(30000, "a", 2), Ev(8000, "b", 5), Ev(15000, "a", 4),
                       Ev(24000, "a", 8)});
    // a: 0 and 30000 are two sessions until 15000... 15000 does not reach 0+10s;
    // 24000 joins [15000] and [30000] into one: 15000..30000.
    REQUIRE(out.size() == 3);
    CHECK(
        out[0] ==
        R"({"window_start":"1970-01-01T00:00:00.000Z","window_end":"1970-01-01T00:00:10.000Z","k":"a","sum_v":1})");
    CHECK(out[1].find(R"("window_end":"1970-01-01T00:00:18.000Z","k":"b","sum_v":5)") !=
          std::string::npos);
    CHECK(
        out[2] ==
        R"({"window_start":"1970-01-01T00:00:15.000Z","window_end":"1970-01-01T00:00:40.000Z","k":"a","sum_v":14})");
  }

  TEST_CASE("SessionRecordIsLateOnlyWhenItJoinsNoOpenSession") {
    WindowFlags f;
    f.session = "10s";
    f.time_field = "ts";
    f.group_by = {"k"};
    // W = 30000 after the second record: b@8000 and a@15000 are late, but
    // a@25000 reaches the open session [30000, 40000) and joins it.
    auto out = Run(f, {Ev(0, "a"), Ev(30000, "a"), Ev(8000, "b"), Ev(15000, "a"), Ev(25000, "a")});
    REQUIRE(out.size() == 2);
    CHECK(
        out[1].find(
            R"("window_start":"1970-01-01T00:00:25.000Z","window_end":"1970-01-01T00:00:40.000Z","k":"a","count":2)") !=
        std::string::npos);
  }

  TEST_CASE("EmitEmptyFillsTheGapsBetweenWindows") {
    WindowFlags f;
    f.tumbling = "1s";
    f.time_field = "ts";
    f.emit_empty = true;
    f.avg = {"v"};
    f.top = {"2:k"};
    auto out = Run(f, {Ev(500, "a"), Ev(3500, "b")});
    REQUIRE(out.size() == 4);
    CHECK(out[1].find(R"("count")") == std::string::npos);
    CHECK(out[1].find(R"("avg_v":null,"top_k":[])") != std::string::npos);
    CHECK(out[3].find(R"("top_k":[{"value":"b","count":1}])") != std::string::npos);
  }

  TEST_CASE("NamesOfAggregatesAndPercentiles") {
    WindowFlags f;
    f.tumbling = "1h";
    f.min = {"v"};
    f.max = {"v"};
    f.distinct = {"k"};
    f.percentile = {"v:50,99.9"};
    auto out = Run(f, {Ev(0, "a", 3), Ev(0, "b", 1), Ev(0, "a", 2)}, 7200000);
    REQUIRE(out.size() == 1);
    CHECK(out[0].find(R"("min_v":1,"max_v":3,"distinct_k":2,"p50_v":2,"p99.9_v":3})") !=
          std::string::npos);
    CHECK(out[0].find(R"("window_start":"1970-01-01T02:00:00.000Z")") != std::string::npos);
  }

  TEST_CASE("FlagCombinationsThatAreUsageErrors") {
    auto bad = [](auto change) {
      WindowFlags f;
      f.tumbling = "5s";
      change(f);
      return !ConfigFromFlags(f).ok();
    };
    CHECK(bad([](WindowFlags& f) { f.tumbling.clear(); }));
    CHECK(bad([](WindowFlags& f) { f.session = "1m"; }));
    CHECK(bad([](WindowFlags& f) { f.every = "1s"; }));
    CHECK(bad([](WindowFlags& f) { f.tumbling = "0s"; }));
    CHECK(bad([](WindowFlags& f) { f.tumbling = "5 parsecs"; }));
    CHECK(bad([](WindowFlags& f) { f.tumbling.clear(), f.sliding = "1s", f.every = "2s"; }));
    CHECK(bad([](WindowFlags& f) { f.tumbling.clear(), f.sliding = "1s"; }));
    CHECK(bad([](WindowFlags& f) { f.group_by = {"a"}, f.emit_empty = true; }));
    CHECK(bad([](WindowFlags& f) { f.top = {"x"}; }));
    CHECK(bad([](WindowFlags& f) { f.top = {"0:x"}; }));
    CHECK(bad([](WindowFlags& f) { f.percentile = {"lat:101"}; }));
    CHECK(bad([](WindowFlags& f) { f.sum = {"a,,b"}; }));
    CHECK(bad([](WindowFlags& f) { f.delimiter = ";"; }));
    CHECK(bad([](WindowFlags& f) { f.csv = true, f.delimiter = "ab"; }));
    CHECK(bad([](WindowFlags& f) { f.time_format = "epoch_ms"; }));
    CHECK(!bad([](WindowFlags& f) { f.csv = true, f.delimiter = "tab"; }));
  }
}
