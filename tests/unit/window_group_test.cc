// kstream-window --stream --group: the engines under an external watermark
// (reopened windows, the earliest open start), and the WindowHandler under a
// real consumer-group worker: checkpoints stop before records whose windows
// are open, a restart completes the windows exactly once, a shard's end with
// open windows, a bad record under --strict.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <string>

#include "consume/group_worker.h"
#include "core/text.h"
#include "kpl/aggregate.h"
#include "store/local_lease_table.h"
#include "test_util.h"
#include "window/group_handler.h"
#include "window/hash.h"

using namespace kstream;
using namespace kstream::window;
using kstest::Value;

namespace {

constexpr int64_t kBase = 1'700'000'000'000;  // a multiple of 5 s

WindowConfig Tumbling(int64_t size_ms, bool event_time = true) {
  WindowConfig c;
  c.window.kind = WindowSpec::Kind::kTumbling;
  c.window.size_ms = c.window.slide_ms = size_ms;
  if (event_time) c.time_field = "ts";
  return c;
}

// Adds a record of group "" at t.
bool AddAt(WindowEngine& e, int64_t t) {
  static const Aggregates aggs({AggSpec{}});
  AggInput in;
  REQUIRE(aggs.Prepare({}, in).ok());
  return e.Add(t, "", HashBytes(""), in);
}

int CountLines(const std::string& s) {
  return int(std::count(s.begin(), s.end(), '\n'));
}

// "window_start" -> sum of "count" over the lines of out.
std::map<std::string, int> CountsByWindow(const std::string& out) {
  std::map<std::string, int> counts;
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t end = out.find('\n', pos);
    const std::string line = out.substr(pos, end - pos);
    pos = end + 1;
    const size_t s = line.find("\"window_start\":\"") + 16;
    const size_t c = line.find("\"count\":") + 8;
    counts[line.substr(s, line.find('"', s) - s)] += std::stoi(line.substr(c));
  }
  return counts;
}

struct GroupFixture : kstest::TestStore {
  explicit GroupFixture(int shards = 2) {
    REQUIRE(store.CreateStream("s", shards, 24).ok());
    writer = Value(store.OpenWriter("s", SyncMode::kNever));
    table = Value(groups.OpenLeaseTable("s", "app"));
    options.group = "app";
    options.worker = "w1";
  }
  // Puts n events 100 ms apart, keys k0..k9, continuing the timeline.
  void Put(int n) {
    for (int i = 0; i < n; ++i, ++next_) {
      const std::string key = "k" + std::to_string(next_ % 10);
      const int64_t ts = kBase + next_ * 100;
      kstest::PutOne(*writer, key, "{\"ts\":" + std::to_string(ts) + ",\"k\":\"" + key + "\"}");
      expected[FormatTimestamp(ts - ts % 5000)]++;
      ++put_;
    }
  }
  // Leaves a gap of n events in the timeline.
  void Skip(int n) { next_ += n; }
  // The same as KPL aggregates of `per` events each; returns the largest
  // event time of each aggregate, by sequence.
  std::map<SequenceNumber, int64_t> PutAggregated(int n, int per) {
    std::map<SequenceNumber, int64_t> last_ts;
    for (int done = 0; done < n; done += per) {
      kpl::Aggregator a;
      std::vector<std::string> keys, data;  // the aggregator keeps views
      int64_t ts = 0;
      for (int i = done; i < std::min(n, done + per); ++i, ++next_) {
        keys.push_back("k" + std::to_string(next_ % 10));
        ts = kBase + next_ * 100;
        data.push_back("{\"ts\":" + std::to_string(ts) + ",\"k\":\"" + keys.back() + "\"}");
        expected[FormatTimestamp(ts - ts % 5000)]++;
        ++put_;
      }
      for (size_t i = 0; i < keys.size(); ++i) a.Add({keys[i], std::nullopt, data[i]});
      std::string bytes;
      a.AppendTo(bytes);
      last_ts[kstest::PutOne(*writer, "agg", bytes).sequence] = ts;
    }
    return last_ts;
  }
  // One run over the stream; returns its output.
  std::string Run(const WindowConfig& config, bool follow, RunStats* stats_out = nullptr,
                  Status* status = nullptr) {
    auto p = Value(Processor::Create(config, /*external_watermark=*/true));
    const std::string path = dir.path() + "/out" + std::to_string(runs_++);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    RecordWriter out(fd, OutputFormat::kLines);
    RunStats stats;
    options.follow = follow;
    // Following: stop once every record put is handed over and written.
    GroupOptions o = options;
    if (follow)
      o.on_progress = [&](const GroupStats&) {
        if (stats.records >= uint64_t(put_)) stop = true;
      };
    stop = false;
    Status s = RunOnGroup(*p, store, *table, "s", o, &env, run_options, out, stats, &stop);
    ::close(fd);
    if (status) {
      *status = s;
    } else {
      REQUIRE_MESSAGE(s.ok(), s.message());
    }
    if (stats_out) *stats_out = stats;
    return kstest::ReadFileBytes(path);
  }
  std::vector<Lease> Leases() { return Value(table->List()); }

  LocalGroupStore groups{&store};
  std::unique_ptr<StreamWriter> writer;
  std::unique_ptr<LeaseTable> table;
  GroupOptions options;
  RunOptions run_options;
  StopFlag stop{false};
  std::map<std::string, int> expected;  // events per 5 s window start

 private:
  int next_ = 0;  // the next event's place in the timeline
  int put_ = 0;   // events put
  int runs_ = 0;
};

}  // namespace

TEST_SUITE("window_group") {
  TEST_CASE("AnExternalWatermarkReopensAnEmittedWindowAsAFurtherLine") {
    WindowConfig c = Tumbling(5000);
    auto p = Value(Processor::Create(c, /*external_watermark=*/true));
    WindowEngine& e = p->engine();
    CHECK(e.LateBefore(INT64_MIN) == INT64_MIN);
    CHECK(e.LateBefore(6000) == 5000);  // [0, 5000) closed, [5000, 10000) open
    CHECK(AddAt(e, 1000));
    CHECK(e.watermark() == INT64_MIN);  // the caller moves it
    CHECK(e.min_open_start() == 0);
    e.AdvanceWatermark(6000);
    CHECK(CountLines(e.output()) == 1);
    CHECK(e.min_open_start() == INT64_MAX);
    CHECK(AddAt(e, 2000));  // not refused: the caller judged it
    CHECK(e.min_open_start() == 0);
    e.AdvanceWatermark(INT64_MIN);  // the watermark stays; the reopened window is due
    CHECK(CountLines(e.output()) == 2);
    CHECK(e.min_open_start() == INT64_MAX);
    CHECK(e.Bucket(7300) == 5000);
  }

  TEST_CASE("SlidingWindowsAreLateOnlyOnceTheirLastWindowClosed") {
    WindowConfig c = Tumbling(10000);
    c.window.kind = WindowSpec::Kind::kSliding;
    c.window.slide_ms = 5000;
    auto p = Value(Processor::Create(c, true));
    const int64_t late_before = p->engine().LateBefore(12000);
    CHECK(late_before == 5000);  // 4999: [-5000, 5000) and [0, 10000), both closed
    CHECK(p->engine().Bucket(4999) == 0);
  }

  TEST_CASE("SessionsTrackTheEarliestOpenStartThroughMergesAndEmits") {
    WindowConfig c;
    c.window.kind = WindowSpec::Kind::kSession;
    c.window.gap_ms = 5000;
    c.group_by = {"k"};
    auto p = Value(Processor::Create(c, true));
    Processor::Outcome o;
    int64_t t;
    auto add = [&](const std::string& k, int64_t now) {
      std::string line = "{\"k\":\"" + k + "\"}";
      line.append(64, '\0');
      REQUIRE(p->Add(std::string_view(line.data(), line.size() - 64), now, INT64_MIN, o, t).ok());
      CHECK(o == Processor::Outcome::kAdded);
    };
    WindowEngine& e = p->engine();
    add("a", 1000);
    add("a", 3000);  // the same session
    CHECK(e.min_open_start() == 1000);
    add("b", 500);
    CHECK(e.min_open_start() == 500);
    e.AdvanceWatermark(5500);  // b's session [500, 5500) ends
    CHECK(CountLines(e.output()) == 1);
    CHECK(e.min_open_start() == 1000);
    add("a", 200);  // joins a's session, which now starts earlier
    CHECK(e.min_open_start() == 200);
    CHECK(e.LateBefore(10000) == 5001);
    CHECK(e.Bucket(936) == 936);  // 5000 / 16 = 312 ms steps, rounded up
    CHECK(e.Bucket(937) == 1248);
    e.AdvanceWatermark(8000);
    CHECK(e.min_open_start() == INT64_MAX);
    CHECK(CountLines(e.output()) == 2);
  }

  TEST_CASE("CheckpointsStopBeforeRecordsInOpenWindowsAndARestartCompletesThemOnce") {
    GroupFixture f;
    f.Put(200);  // 0 .. 19.9 s: [15 s, 20 s) stays open while following
    const std::string first = f.Run(Tumbling(5000), /*follow=*/true);
    auto counts = CountsByWindow(first);
    CHECK(counts.size() == 3);
    CHECK(counts.count(FormatTimestamp(kBase + 15000)) == 0);
    // Each shard's checkpoint is its last record before 15 s.
    for (const Lease& l : f.Leases()) {
      auto cursor = Value(f.store.OpenCursor("s", l.shard, StartPosition{}));
      SequenceNumber last_closed = 0;
      for (const kstest::Rec& r : kstest::ReadAll(*cursor)) {
        const int64_t ts = std::stoll(r.data.substr(6));
        if (ts < kBase + 15000) last_closed = r.sequence;
      }
      CHECK(l.checkpoint == Checkpoint::Sequence(last_closed));
      CHECK(l.owner.empty());  // released at the stop
    }
    // A run to the end emits the rest: every event exactly once over both.
    const std::string second = f.Run(Tumbling(5000), /*follow=*/false);
    auto total = CountsByWindow(first + second);
    CHECK(total == f.expected);
    auto stats = Value(f.store.DescribeStream("s")).stats;
    for (const Lease& l : f.Leases())
      CHECK(l.checkpoint == Checkpoint::Sequence(*stats[l.shard].last_sequence));
  }

  TEST_CASE("AggregatesAcrossAWindowBoundaryAreCheckpointedWholeAsTheirWindowsClose") {
    GroupFixture f(1);
    // 7 events per aggregate, 50 per window: most windows end inside one.
    const std::map<SequenceNumber, int64_t> last_ts = f.PutAggregated(200, 7);
    RunStats stats;
    const std::string first = f.Run(Tumbling(5000), /*follow=*/true, &stats);
    CHECK(stats.records == 200);
    SequenceNumber closed = 0;  // the last aggregate wholly before the open window
    for (const auto& [seq, ts] : last_ts)
      if (ts < kBase + 15000) closed = seq;
    CHECK(f.Leases().at(0).checkpoint == Checkpoint::Sequence(closed));
    // Read again whole: the aggregate astride the open window's start
    // repeats its user records of the window before (at most 6).
    const std::string second = f.Run(Tumbling(5000), /*follow=*/false);
    int repeated = 0;
    for (const auto& [w, n] : CountsByWindow(first + second)) {
      CHECK(n >= f.expected[w]);
      repeated += n - f.expected[w];
    }
    CHECK(repeated <= 6);
  }

  TEST_CASE("SessionsAreCheckpointedOnceTheyCloseAndARestartCompletesTheOpenOnes") {
    GroupFixture f(2);
    f.Put(100);  // 0 .. 9.9 s, each key every second
    f.Skip(100);
    f.Put(100);  // 20 .. 29.9 s: these sessions stay open while following
    WindowConfig c;
    c.window.kind = WindowSpec::Kind::kSession;
    c.window.gap_ms = 2000;
    c.group_by = {"k"};
    c.time_field = "ts";
    const std::string first = f.Run(c, /*follow=*/true);
    CHECK(CountLines(first) == 10);  // the first session of each key
    CHECK(first.find("\"count\":10}") != std::string::npos);
    for (const Lease& l : f.Leases()) {
      auto cursor = Value(f.store.OpenCursor("s", l.shard, StartPosition{}));
      SequenceNumber last_closed = 0;
      for (const kstest::Rec& r : kstest::ReadAll(*cursor))
        if (std::stoll(r.data.substr(6)) < kBase + 10000) last_closed = r.sequence;
      CHECK(l.checkpoint == Checkpoint::Sequence(last_closed));
    }
    const std::string second = f.Run(c, /*follow=*/false);
    CHECK(CountLines(second) == 10);
    int sum = 0;
    for (const auto& [w, n] : CountsByWindow(first + second)) sum += n;
    CHECK(sum == 200);
  }

  TEST_CASE("AShardEndWithOpenWindowsIsCheckpointedOnlyOnceTheyAreEmitted") {
    GroupFixture f(2);
    f.Put(120);
    REQUIRE(f.store.SplitShard("s", 0, uint128(1) << 126).ok());  // -> 2, 3
    REQUIRE(f.store.MergeShards("s", 3, 1).ok());                 // -> 4
    f.Put(150);
    // Following, the parents' last windows could only close with the
    // children's records, which wait for the parents' SHARD_END.
    const std::string first = f.Run(Tumbling(5000), /*follow=*/true);
    const std::string second = f.Run(Tumbling(5000), /*follow=*/false);
    CHECK(CountsByWindow(first + second) == f.expected);
    StreamMeta meta = Value(f.store.ReadMeta("s"));
    for (const Lease& l : f.Leases())
      if (!meta.FindShard(l.shard)->is_open()) CHECK(l.checkpoint.at_shard_end());
  }

  TEST_CASE("ArrivalTimeWindowsHoldEveryRecordOnce") {
    GroupFixture f(3);
    f.Put(300);
    f.env.Advance(10'000);  // a backlog: caught up at once, yet not late
    RunStats stats;
    const std::string out = f.Run(Tumbling(1000, /*event_time=*/false), false, &stats);
    int sum = 0;
    for (const auto& [w, n] : CountsByWindow(out)) sum += n;
    CHECK(sum == 300);
    CHECK(stats.records == 300);
    CHECK(stats.late == 0);
  }

  TEST_CASE("StreamWithoutAGroupJudgesLatenessPerShardAndLosesNothing") {
    GroupFixture f(3);
    f.Put(600);  // one arrival time: a merge by arrival would mix event times
    auto p = Value(Processor::Create(Tumbling(5000), /*external_watermark=*/true));
    const std::string path = f.dir.path() + "/plain";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    RecordWriter out(fd, OutputFormat::kLines);
    RunStats stats;
    StreamInput in;
    in.stream = "s";
    REQUIRE(RunOnStream(*p, f.store, in, &f.env, f.run_options, out, stats, &f.stop).ok());
    ::close(fd);
    CHECK(stats.late == 0);
    const std::string got = kstest::ReadFileBytes(path);
    CHECK(CountsByWindow(got) == f.expected);
    CHECK(CountLines(got) == int(f.expected.size()));  // one line per window
    CHECK(Value(f.groups.ListGroups("s")).empty());    // nothing kept
  }

  TEST_CASE("AStrictRunStopsAtABadRecordWithoutCheckpointingPastIt") {
    GroupFixture f(1);
    f.Put(30);
    const PutResult bad = kstest::PutOne(*f.writer, "k0", "not json");
    f.Put(10);
    WindowConfig c = Tumbling(5000);
    f.run_options.strict = true;
    Status s;
    f.Run(c, /*follow=*/false, nullptr, &s);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("record 31") != std::string::npos);
    const Lease l = f.Leases().at(0);
    CHECK(
        (l.checkpoint.kind != Checkpoint::Kind::kSequence || l.checkpoint.sequence < bad.sequence));
  }
}  // TEST_SUITE
