// kstream-deliver's library: standard compressed frames, the prefix template
// and file names, flush intents, and the Deliverer under a consumer-group
// worker: every record in exactly one file across interval flushes, crashes
// between the steps of a flush (faults injected through the Env seam), a
// full disk, and a lost lease.
#include <doctest/doctest.h>
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "consume/group_worker.h"
#include "core/text.h"
#include "deliver/compress.h"
#include "deliver/deliverer.h"
#include "deliver/intent.h"
#include "deliver/layout.h"
#include "fault_env.h"
#include "store/local_lease_table.h"
#include "test_util.h"

using namespace kstream;
using kstest::Value;

namespace {

std::string Gunzip(const std::string& in) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  std::string out;
  char buf[65536];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = uInt(in.size());
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
    out.append(buf, sizeof(buf) - z.avail_out);
  } while (rc != Z_STREAM_END);
  CHECK(z.avail_in == 0);  // one member, nothing after it
  inflateEnd(&z);
  return out;
}

std::string Unzstd(const std::string& in) {
  const unsigned long long size = ZSTD_getFrameContentSize(in.data(), in.size());
  REQUIRE(size != ZSTD_CONTENTSIZE_ERROR);
  REQUIRE(size != ZSTD_CONTENTSIZE_UNKNOWN);
  std::string out(size, '\0');
  const size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
  REQUIRE(!ZSTD_isError(n));
  CHECK(n == size);
  return out;
}

std::string Unlz4(const std::string& in) {
  LZ4F_dctx* dctx = nullptr;
  REQUIRE(!LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)));
  std::string out;
  char buf[65536];
  size_t pos = 0, hint = 1;
  while (pos < in.size() && hint != 0) {
    size_t dst = sizeof(buf), src = in.size() - pos;
    hint = LZ4F_decompress(dctx, buf, &dst, in.data() + pos, &src, nullptr);
    REQUIRE(!LZ4F_isError(hint));
    pos += src;
    out.append(buf, dst);
  }
  CHECK(hint == 0);  // the frame ended
  LZ4F_freeDecompressionContext(dctx);
  return out;
}

std::string Decompress(Compression c, const std::string& in) {
  switch (c) {
    case Compression::kNone:
      return in;
    case Compression::kGzip:
      return Gunzip(in);
    case Compression::kZstd:
      return Unzstd(in);
    case Compression::kLz4:
      return Unlz4(in);
  }
  return in;
}

// Faults for the deliverer's files: writes under the staging directory that
// run out of space, a failing intent write, a failing rename.
// Atomic: the flushing threads of the Deliverer use them.
struct Faults {
  std::atomic<int64_t> staged_bytes_left = INT64_MAX;
  std::atomic<bool> fail_intent = false;
  std::atomic<int> renames_left = INT32_MAX;  // renames that succeed before one fails
};

class StagedFile final : public AppendFile {
 public:
  StagedFile(std::unique_ptr<AppendFile> f, Faults* faults) : f_(std::move(f)), faults_(faults) {}
  Result<uint64_t> Size() override { return f_->Size(); }
  Result<size_t> ReadAt(uint64_t o, size_t n, char* b) override { return f_->ReadAt(o, n, b); }
  const std::string& path() const override { return f_->path(); }
  Result<State> Stat() override { return f_->Stat(); }
  Status Truncate(uint64_t size) override { return f_->Truncate(size); }
  Status Sync() override { return f_->Sync(); }
  Status Append(std::string_view data) override {
    const int64_t left = faults_->staged_bytes_left.fetch_sub(int64_t(data.size()));
    if (int64_t(data.size()) <= left) return f_->Append(data);
    const size_t part = size_t(std::max<int64_t>(0, left));
    faults_->staged_bytes_left = 0;
    if (part) (void)f_->Append(data.substr(0, part));
    return Status::IOError("write " + f_->path() + ": No space left on device");
  }

 private:
  std::unique_ptr<AppendFile> f_;
  Faults* faults_;
};

class FaultEnv final : public Env {
 public:
  explicit FaultEnv(Faults* faults) : faults_(faults) {}
  kstest::FakeClockEnv clock;
  int64_t NowMillis() override { return clock.NowMillis(); }
  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path, bool create) override {
    if (faults_->fail_intent && path.ends_with(".intent"))
      return Status::IOError("open " + path + ": Input/output error");
    KS_ASSIGN_OR_RETURN(auto f, base_->OpenAppend(path, create));
    if (path.find("/staging/") == std::string::npos || path.ends_with(".intent")) return f;
    return std::unique_ptr<AppendFile>(new StagedFile(std::move(f), faults_));
  }
  Result<std::unique_ptr<ReadFile>> OpenRead(const std::string& p) override {
    return base_->OpenRead(p);
  }
  Status WriteFileAtomic(const std::string& p, std::string_view c) override {
    return base_->WriteFileAtomic(p, c);
  }
  Result<std::string> ReadWholeFile(const std::string& p) override {
    return base_->ReadWholeFile(p);
  }
  bool Exists(const std::string& p) override { return base_->Exists(p); }
  Result<std::vector<std::string>> ListDir(const std::string& d) override {
    return base_->ListDir(d);
  }
  Status CreateDir(const std::string& d) override { return base_->CreateDir(d); }
  Status SyncDir(const std::string& d) override { return base_->SyncDir(d); }
  Status RemoveFile(const std::string& p) override { return base_->RemoveFile(p); }
  Status RemoveTree(const std::string& d) override { return base_->RemoveTree(d); }
  Status Rename(const std::string& a, const std::string& b) override {
    if (a.find("/staging/") != std::string::npos && faults_->renames_left-- <= 0)
      return Status::IOError("rename " + a + ": Input/output error");
    return base_->Rename(a, b);
  }
  Result<std::unique_ptr<LockFile>> OpenLockFile(const std::string& p) override {
    return base_->OpenLockFile(p);
  }

 private:
  Env* base_ = Env::Default();
  Faults* faults_;
};

// A stream, a target directory and a worker that delivers into it.
struct DeliverFixture {
  explicit DeliverFixture(int shards = 4) {
    REQUIRE(store.CreateStream("s", shards, 24).ok());
    writer = Value(store.OpenWriter("s", SyncMode::kNever));
    table = Value(groups.OpenLeaseTable("s", "arch"));
    std::filesystem::create_directory(target);
    options.stream = "s";
    options.dir = target;
    options.group = "arch";
    options.prefix = Value(PrefixTemplate::Parse(kDefaultPrefix));
    group.group = "arch";
    group.worker = "w1";
  }
  // Puts records "r<i>" (i from next_), spread over keys.
  void Put(int n) {
    for (int i = 0; i < n; ++i, ++next_) {
      kstest::PutOne(*writer, "k" + std::to_string(next_ % 97), "r" + std::to_string(next_));
      put.insert("r" + std::to_string(next_));
    }
  }
  std::unique_ptr<Deliverer> Open() { return Value(TryOpen(&env)); }
  Result<std::unique_ptr<Deliverer>> TryOpen(Env* on) {
    DeliverOptions o;
    o.stream = options.stream;
    o.dir = options.dir;
    o.group = options.group;
    o.buffer_bytes = options.buffer_bytes;
    o.buffer_interval_ms = options.buffer_interval_ms;
    o.compression = options.compression;
    o.level = CompressionLevels(o.compression).fallback;
    o.format = options.format;
    o.delimiter = options.delimiter;
    o.prefix = Value(PrefixTemplate::Parse(prefix_text));
    o.max_partitions = options.max_partitions;
    o.owns = owns;
    return Deliverer::Open(std::move(o), on);
  }
  // One worker run until caught up; returns its status.
  Status Run(Deliverer& d) {
    GroupStats stats;
    return RunGroupWorker(store, *table, &env, "s", group, d, stats, &stop);
  }
  // The same run with every file operation (store, lease table, delivery)
  // going through `on`.
  Status RunOn(Deliverer& d, Env* on) {
    LocalStore faulty_store(on, dir.Sub("home"));
    LocalGroupStore faulty_groups(&faulty_store);
    KS_ASSIGN_OR_RETURN(auto faulty_table, faulty_groups.OpenLeaseTable("s", "arch"));
    GroupStats stats;
    return RunGroupWorker(faulty_store, *faulty_table, on, "s", group, d, stats, &stop);
  }
  // Every final file under the target: path -> decompressed contents.
  std::map<std::string, std::string> Files() {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(target)) {
      const std::string rel = std::filesystem::relative(e.path(), target).string();
      if (!e.is_regular_file() || rel.starts_with(".kstream-deliver")) continue;
      out[rel] = Decompress(options.compression, kstest::ReadFileBytes(e.path().string()));
    }
    return out;
  }
  // The records in the files (newline-delimited), as a multiset.
  std::multiset<std::string> Delivered() {
    std::multiset<std::string> all;
    for (const auto& [path, text] : Files()) {
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);) all.insert(line);
    }
    return all;
  }
  // Staged files (not intents) under the staging directory.
  size_t StagedCount() {
    size_t n = 0;
    for (const auto& e :
         std::filesystem::directory_iterator(target + "/.kstream-deliver/arch/staging"))
      n += e.path().extension() == ".part";
    return n;
  }
  std::vector<Lease> Leases() { return Value(table->List()); }

  kstest::TempDir dir;
  Faults faults;
  FaultEnv env{&faults};
  LocalStore store{&env, dir.Sub("home")};
  LocalGroupStore groups{&store};
  std::unique_ptr<StreamWriter> writer;
  std::unique_ptr<LeaseTable> table;
  std::string target = dir.Sub("archive");
  std::string prefix_text = kDefaultPrefix;
  std::function<Result<bool>(uint64_t)> owns;
  DeliverOptions options;
  GroupOptions group;
  StopFlag stop{false};
  std::multiset<std::string> put;

 private:
  int next_ = 0;
};

}  // namespace

TEST_SUITE("deliver") {
  TEST_CASE("EveryCodecWritesOneStandardFrameThatDecodesToTheInput") {
    std::string input;
    // Several MiB: more than one piece goes in and out of the streaming codecs.
    for (int i = 0; i < 250000; ++i)
      input += "{\"device\":" + std::to_string(i % 17) + ",\"n\":" + std::to_string(i) + "}\n";
    for (Compression c :
         {Compression::kNone, Compression::kGzip, Compression::kZstd, Compression::kLz4}) {
      CAPTURE(CompressionName(c));
      const LevelRange levels = CompressionLevels(c);
      for (int level : {levels.min, levels.fallback}) {
        auto comp = Value(Compressor::Create(c, level));
        auto compress = [&](std::string_view in) {
          std::string out;
          REQUIRE(comp->Compress(in,
                                 [&](std::string_view piece) {
                                   out += piece;
                                   return Status::Ok();
                                 })
                      .ok());
          return out;
        };
        const std::string out = compress(input);
        CHECK(Decompress(c, out) == input);
        if (c != Compression::kNone) CHECK(out.size() < input.size() / 3);
        // Reused: a smaller input after a larger one, and an empty one.
        const std::string half = input.substr(0, input.size() / 2);
        CHECK(Decompress(c, compress(half)) == half);
        CHECK(Decompress(c, compress("")).empty());
        // A sink that fails (a full disk) stops the compression with its error.
        Status s =
            comp->Compress(input, [](std::string_view) { return Status::IOError("disk full"); });
        CHECK(s.message().find("disk full") != std::string::npos);
      }
    }
    CHECK(!Compressor::Create(Compression::kZstd, 99).ok());
    CHECK(!ParseCompression("bzip2").ok());
  }

  TEST_CASE("ThePrefixTemplateRoutesByArrivalTimeAndJsonFields") {
    const int64_t t = Value(ParseTimestamp("2024-06-07T08:09:10.500Z"));
    PrefixTemplate::RouteError err;
    std::string out;
    auto def = Value(PrefixTemplate::Parse(kDefaultPrefix));
    REQUIRE(def.Evaluate(t, "x", out, &err));
    CHECK(out == "2024/06/07/08/");
    REQUIRE(def.Evaluate(t + 3'600'000, "x", out, &err));  // the cache follows the hour
    CHECK(out == "2024/06/07/09/");

    auto plain = Value(PrefixTemplate::Parse("logs/"));  // Firehose appends the time
    REQUIRE(plain.Evaluate(t, "x", out, &err));
    CHECK(out == "logs/2024/06/07/08/");

    auto dyn = Value(PrefixTemplate::Parse(
        "customer=!{field:customer_id}/kind=!{field:meta.kind}/!{timestamp:yyyy-MM-dd HH.mm.ss}/"));
    REQUIRE(dyn.Evaluate(t, R"({"customer_id":"acme","meta":{"kind":7}})", out, &err));
    CHECK(out == "customer=acme/kind=7/2024-06-07 08.09.10/");
    CHECK(!dyn.Evaluate(t, R"({"meta":{"kind":7}})", out, &err));
    CHECK(err.code == "PartitionKeyMissing");
    CHECK(err.message.find("customer_id") != std::string::npos);
    CHECK(!dyn.Evaluate(t, "not json", out, &err));
    CHECK(err.code == "InvalidJson");
    CHECK(!dyn.Evaluate(t, R"({"customer_id":"../etc","meta":{"kind":1}})", out, &err));
    CHECK(err.code == "InvalidPartitionValue");
    CHECK(!dyn.Evaluate(t, R"({"customer_id":{"a":1},"meta":{"kind":1}})", out, &err));
    CHECK(err.code == "InvalidPartitionValue");

    CHECK(!PrefixTemplate::Parse("/abs/").ok());
    CHECK(!PrefixTemplate::Parse("a/../b/").ok());
    CHECK(!PrefixTemplate::Parse("!{partitionKeyFromQuery:x}/").ok());
    CHECK(!PrefixTemplate::Parse("!{timestamp:yyyy").ok());
  }

  TEST_CASE("FileNamesAreDeterministicFromStreamTimeShardAndSequenceRange") {
    const int64_t t = Value(ParseTimestamp("2024-06-07T08:09:10Z"));
    CHECK(DeliveredFileName("logs", t, 3, 100, 250, ".zst") ==
          "logs-2024-06-07-08-09-10-shardId-000000000003-100-250.zst");
  }

  TEST_CASE("AFlushIntentRoundTripsAndDamageIsReported") {
    FlushIntent in{7, (uint128(1) << 100) + 5, {{"a.part", "2024/01/01/00/x.gz"}, {"b", "c d/e"}}};
    FlushIntent out = Value(DecodeIntent(EncodeIntent(in), "p"));
    CHECK(out.shard == 7);
    CHECK(out.last == in.last);
    REQUIRE(out.files.size() == 2);
    CHECK(out.files[1].final == "c d/e");
    const std::string text = EncodeIntent(in);
    CHECK(DecodeIntent(text.substr(0, text.size() - 3), "p").status().code() ==
          StatusCode::kCorruption);
    CHECK(!DecodeIntent("garbage\n", "p").ok());
  }

  TEST_CASE("AWorkerDeliversEveryRecordOnceForEveryCodecAndCheckpointsTheEnd") {
    for (Compression c :
         {Compression::kNone, Compression::kGzip, Compression::kZstd, Compression::kLz4}) {
      CAPTURE(CompressionName(c));
      DeliverFixture f;
      f.options.compression = c;
      f.options.buffer_bytes = 700;  // many files per shard
      f.Put(1000);
      auto d = f.Open();
      REQUIRE(f.Run(*d).ok());
      CHECK(f.Delivered() == f.put);
      CHECK(d->stats().records == 1000);
      CHECK(d->stats().files == f.Files().size());
      CHECK(f.Files().size() > 8);
      auto stats = Value(f.store.DescribeStream("s")).stats;
      for (const Lease& l : f.Leases())
        CHECK(l.checkpoint == Checkpoint::Sequence(*stats[l.shard].last_sequence));
      for (const auto& [path, text] : f.Files()) {
        CHECK(path.ends_with(std::string(CompressionExtension(c))));
        CHECK(path.find("/s-") != std::string::npos);
      }
      // A second run has nothing new: no file is written again.
      auto again = f.Open();
      REQUIRE(f.Run(*again).ok());
      CHECK(again->stats().files == 0);
      f.Put(10);
      REQUIRE(f.Run(*again).ok());
      CHECK(f.Delivered() == f.put);
    }
  }

  TEST_CASE("APartialBufferIsDeliveredWhenItsIntervalPassesAndNotBefore") {
    DeliverFixture f(1);
    f.options.buffer_interval_ms = 5000;
    f.Put(3);
    auto d = f.Open();
    RecordBatch batch;
    auto cursor = Value(f.store.OpenCursor("s", 0, {}));
    REQUIRE(cursor->Read(batch, 100, 1 << 20).ok());
    BatchHandler::Context ctx;
    REQUIRE(Value(d->Handle(0, batch, ctx)));
    REQUIRE(d->DeliverDue(ctx).ok());
    CHECK(f.Files().empty());
    CHECK(!d->Delivered(0));
    CHECK(d->next_due_ms() == f.env.NowMillis() + 5000);
    f.env.clock.Advance(4999);
    REQUIRE(d->DeliverDue(ctx).ok());
    CHECK(f.Files().empty());
    f.env.clock.Advance(1);
    // Handed to the flushing threads: reported once its file is visible.
    for (int i = 0; i < 5000 && !d->Delivered(0); ++i) {
      REQUIRE(d->DeliverDue(ctx).ok());
      usleep(1000);
    }
    CHECK(f.Delivered() == f.put);
    CHECK(d->Delivered(0) == batch[2].sequence);
    CHECK(d->next_due_ms() == std::numeric_limits<int64_t>::max());
  }

  TEST_CASE("RecordsOfDifferentHoursGoToTheirOwnHourDirectories") {
    DeliverFixture f(1);
    f.env.clock.Set(Value(ParseTimestamp("2024-06-07T08:59:59Z")));
    f.Put(3);
    f.env.clock.Set(Value(ParseTimestamp("2024-06-07T09:00:00Z")));
    f.Put(2);
    f.env.clock.Set(Value(ParseTimestamp("2024-06-07T10:15:00Z")));
    f.Put(1);
    auto d = f.Open();
    REQUIRE(f.Run(*d).ok());
    std::map<std::string, size_t> per_dir;
    for (const auto& [path, text] : f.Files())
      per_dir[path.substr(0, path.rfind('/'))] +=
          size_t(std::count(text.begin(), text.end(), '\n'));
    CHECK(per_dir == std::map<std::string, size_t>{
                         {"2024/06/07/08", 3}, {"2024/06/07/09", 2}, {"2024/06/07/10", 1}});
    CHECK(f.Delivered() == f.put);
  }

  TEST_CASE("RecordsWhoseFieldIsMissingGoUnderErrorsWithTheReason") {
    DeliverFixture f(1);
    f.prefix_text = "customer=!{field:customer_id}/";
    kstest::PutOne(*f.writer, "k", R"({"customer_id":"acme","n":1})");
    kstest::PutOne(*f.writer, "k", R"({"n":2})");
    kstest::PutOne(*f.writer, "k", R"({"customer_id":"zeta","n":3})");
    auto d = f.Open();
    REQUIRE(f.Run(*d).ok());
    auto files = f.Files();
    REQUIRE(files.size() == 3);
    std::map<std::string, std::string> by_dir;
    for (const auto& [path, text] : files) by_dir[path.substr(0, path.find('/'))] += text;
    CHECK(by_dir["customer=acme"] == "{\"customer_id\":\"acme\",\"n\":1}\n");
    CHECK(by_dir["customer=zeta"] == "{\"customer_id\":\"zeta\",\"n\":3}\n");
    const std::string& err = by_dir["errors"];
    CHECK(err.find("\"errorCode\":\"PartitionKeyMissing\"") != std::string::npos);
    CHECK(err.find("customer_id") != std::string::npos);
    std::string raw;
    AppendBase64(raw, R"({"n":2})");
    CHECK(err.find("\"rawData\":\"" + raw + "\"") != std::string::npos);
    CHECK(d->stats().error_records == 1);
    for (const auto& [path, text] : files)
      if (path.starts_with("errors/")) CHECK(path.starts_with("errors/partitioning-failed/"));
  }

  TEST_CASE("RecordsBeyondTheActivePartitionLimitGoUnderErrorsUntilAFlushFreesPartitions") {
    DeliverFixture f(1);
    f.prefix_text = "c=!{field:c}/";
    f.options.max_partitions = 2;
    // The third record would be a third active partition; the error
    // document it becomes fills the buffer, and the flush frees both
    // partitions, so d and e are routed again.
    f.options.buffer_bytes = 120;
    for (const char* c : {"a", "b", "x", "d", "e"})
      kstest::PutOne(*f.writer, "k", std::string("{\"c\":\"") + c + "\"}");
    auto d = f.Open();
    REQUIRE(f.Run(*d).ok());
    std::map<std::string, std::string> by_dir;
    for (const auto& [path, text] : f.Files()) by_dir[path.substr(0, path.find('/'))] += text;
    CHECK(by_dir["c=a"] == "{\"c\":\"a\"}\n");
    CHECK(by_dir["c=b"] == "{\"c\":\"b\"}\n");
    CHECK(by_dir["c=d"] == "{\"c\":\"d\"}\n");
    CHECK(by_dir["c=e"] == "{\"c\":\"e\"}\n");
    CHECK(!by_dir.count("c=x"));
    size_t exceeded = 0;
    for (const auto& [path, text] : f.Files()) {
      if (!path.starts_with("errors/")) continue;
      CHECK(path.starts_with("errors/activePartitionExceeded/"));
      CHECK(text.find("\"errorCode\":\"ActivePartitionExceeded\"") != std::string::npos);
      CHECK(text.find("'c=x/") != std::string::npos);  // the prefix it would have had
      std::string raw;
      AppendBase64(raw, R"({"c":"x"})");
      CHECK(text.find("\"rawData\":\"" + raw + "\"") != std::string::npos);
      ++exceeded;
    }
    CHECK(exceeded == 1);
    CHECK(d->stats().records == 5);
    CHECK(d->stats().error_records == 1);
  }

  TEST_CASE("APrefixBufferedForSeveralShardsIsOneActivePartition") {
    DeliverFixture f(4);
    f.options.max_partitions = 1;
    f.env.clock.Set(Value(ParseTimestamp("2024-06-07T08:00:00Z")));
    f.Put(400);  // every shard buffers records for the same hour prefix
    auto d = f.Open();
    REQUIRE(f.Run(*d).ok());
    CHECK(d->stats().error_records == 0);
    CHECK(f.Delivered() == f.put);
    for (const auto& [path, text] : f.Files()) CHECK(path.starts_with("2024/06/07/08/"));
  }

  TEST_CASE("ACrashAfterTheIntentIsFinishedByTheNextRunWithoutADuplicate") {
    for (int renames_before_crash : {0, 1}) {
      CAPTURE(renames_before_crash);
      DeliverFixture f(1);
      f.prefix_text = "!{field:p}/";  // two files per flush
      for (int i = 0; i < 40; ++i)
        kstest::PutOne(
            *f.writer, "k",
            "{\"p\":\"" + std::string(i % 2 ? "a" : "b") + "\",\"i\":" + std::to_string(i) + "}");
      f.faults.renames_left = renames_before_crash;
      auto d = f.Open();
      Status s = f.Run(*d);
      CHECK(!s.ok());
      CHECK(s.message().find("rename") != std::string::npos);
      CHECK(f.Leases()[0].checkpoint == Checkpoint{});  // nothing checkpointed
      CHECK(f.Files().size() == size_t(renames_before_crash));

      f.faults.renames_left = INT32_MAX;
      auto restarted = f.Open();
      REQUIRE(f.Run(*restarted).ok());
      auto files = f.Files();
      CHECK(files.size() == 2);
      std::multiset<std::string> lines = f.Delivered();
      CHECK(lines.size() == 40);
      CHECK(std::set<std::string>(lines.begin(), lines.end()).size() == 40);
      CHECK(f.StagedCount() == 0);
      CHECK(restarted->stats().files == 0);  // the intent's files, not new ones
      CHECK(f.Leases()[0].checkpoint.kind == Checkpoint::Kind::kSequence);
    }
  }

  TEST_CASE("ACrashBeforeTheIntentLeavesNothingVisibleAndTheRestartDeliversOnce") {
    DeliverFixture f(2);
    f.Put(200);
    f.faults.fail_intent = true;
    auto d = f.Open();
    CHECK(!f.Run(*d).ok());
    CHECK(f.Files().empty());
    for (const Lease& l : f.Leases()) CHECK(l.checkpoint == Checkpoint{});
    f.faults.fail_intent = false;
    auto restarted = f.Open();
    REQUIRE(f.Run(*restarted).ok());
    CHECK(f.Delivered() == f.put);
    CHECK(f.StagedCount() == 0);
  }

  TEST_CASE("ATornIntentWasNeverCommittedAndItsStagedFilesAreRemoved") {
    DeliverFixture f(1);
    f.Put(50);
    auto d = f.Open();
    REQUIRE(f.Run(*d).ok());
    const std::string staging = f.target + "/.kstream-deliver/arch/staging/";
    // A flush that crashed while writing its intent: a staged file, and an
    // intent for a later range cut short.
    const std::string id = ShardIdFor(0);
    kstest::WriteFileBytes(staging + id + "-99999999999999999999999-0.part", "junk");
    const std::string intent = EncodeIntent(
        {0, Value(ParseDecimal128("99999999999999999999999", "s")), {{"x.part", "junk/x"}}});
    kstest::WriteFileBytes(
        staging + IntentName(0, Value(ParseDecimal128("99999999999999999999999", "s"))),
        intent.substr(0, intent.size() / 2));
    f.Put(20);
    auto again = f.Open();
    REQUIRE(f.Run(*again).ok());
    CHECK(f.Delivered() == f.put);
    CHECK(f.StagedCount() == 0);
    size_t intents = 0;
    for (const auto& e : std::filesystem::directory_iterator(staging))
      intents += e.path().extension() == ".intent";
    CHECK(intents == 1);  // the newest committed one; superseded and torn ones are gone
    CHECK(!std::filesystem::exists(f.target + "/junk"));
  }

  TEST_CASE("AFullDiskStopsWithAClearErrorAndLosesNothingOnceSpaceReturns") {
    for (int64_t budget : {0, 100, 5000}) {
      CAPTURE(budget);
      DeliverFixture f(2);
      f.options.buffer_bytes = 2000;
      f.Put(2000);
      auto d = f.Open();
      f.faults.staged_bytes_left = budget;
      Status s = f.Run(*d);
      REQUIRE(!s.ok());
      CHECK(s.message().find("No space left on device") != std::string::npos);
      CHECK(s.message().find("cannot deliver to") != std::string::npos);
      CHECK(f.StagedCount() == 0);  // a partial staged file is removed
      // Only whole files are visible, and only what is visible is checkpointed.
      std::multiset<std::string> visible = f.Delivered();
      for (const auto& r : visible) CHECK(f.put.count(r) == 1);
      f.faults.staged_bytes_left = INT64_MAX;
      auto restarted = f.Open();
      REQUIRE(f.Run(*restarted).ok());
      CHECK(f.Delivered() == f.put);
    }
  }

  TEST_CASE("AFaultAtEveryWritePointOfADeliveryLosesAndRepeatsNothing") {
    // A delivery of several files per shard, with the N-th file operation
    // (staged file, intent, rename, directory fsync, lease table) failing, for
    // every N: the run reports the error, and a restart on a healthy disk
    // leaves every record in exactly one file.
    using kstest::Fault;
    for (Fault fault : {Fault::kNoSpace, Fault::kIOError, Fault::kCrash}) {
      CAPTURE(int(fault));
      int64_t point = 0;
      for (; point < 1000; ++point) {
        CAPTURE(point);
        DeliverFixture f(2);
        f.options.buffer_bytes = 300;
        f.Put(120);
        kstest::FaultPlanEnv faulty(point, fault);
        Status s;
        {
          auto d = f.TryOpen(&faulty);
          s = d.ok() ? f.RunOn(**d, &faulty) : d.status();
        }
        if (!faulty.fired()) {
          REQUIRE_MESSAGE(s.ok(), s.message());
          CHECK(f.Delivered() == f.put);
          break;  // every point was tried
        }
        // Only a failed clean-up (a stale probe or staged file that stays)
        // may go unreported; everything else is an error of the run.
        const bool cleanup = faulty.fired_operation() == "unlink" && fault != Fault::kCrash;
        if (!cleanup)
          REQUIRE_MESSAGE(!s.ok(), "a fault at point ", point, " (", faulty.fired_operation(),
                          ") was not reported");
        if (fault == Fault::kCrash) faulty.DropUnsynced();
        for (const auto& r : f.Delivered()) CHECK(f.put.count(r) == 1);
        auto restarted = f.Open();
        REQUIRE(f.Run(*restarted).ok());
        CHECK(f.Delivered() == f.put);
      }
      MESSAGE("delivery: ", point, " fault points of kind ", int(fault));
      CHECK(point > 10);
      CHECK(point < 1000);
    }
  }

  TEST_CASE("AWorkerThatLostItsLeaseMakesNothingVisible") {
    DeliverFixture f(1);
    f.Put(10);
    f.owns = [](uint64_t) -> Result<bool> { return false; };
    auto d = f.Open();
    RecordBatch batch;
    auto cursor = Value(f.store.OpenCursor("s", 0, {}));
    REQUIRE(cursor->Read(batch, 100, 1 << 20).ok());
    BatchHandler::Context ctx;
    REQUIRE(Value(d->Handle(0, batch, ctx)));
    REQUIRE(d->DeliverShard(0, ctx).ok());
    CHECK(f.Files().empty());
    CHECK(f.StagedCount() == 0);
    CHECK(!d->Delivered(0));
  }

  TEST_CASE("ALeaseLostBetweenStagingAndCommitMakesNothingVisible") {
    DeliverFixture f(1);
    f.Put(10);
    auto ours = std::make_shared<std::atomic<bool>>(true);
    f.owns = [ours](uint64_t) -> Result<bool> { return ours->load(); };
    auto d = f.Open();
    RecordBatch batch;
    auto cursor = Value(f.store.OpenCursor("s", 0, {}));
    REQUIRE(cursor->Read(batch, 100, 1 << 20).ok());
    BatchHandler::Context ctx;
    REQUIRE(Value(d->Handle(0, batch, ctx)));  // recovered while ours
    *ours = false;
    REQUIRE(d->DeliverShard(0, ctx).ok());
    CHECK(f.Files().empty());
    CHECK(f.StagedCount() == 0);
    CHECK(!d->Delivered(0));
  }

  TEST_CASE("AMissingTargetIsRefusedWithAHint") {
    DeliverFixture f(1);
    DeliverOptions o;
    o.dir = f.dir.Sub("nope");
    o.group = "arch";
    auto d = Deliverer::Open(std::move(o), &f.env);
    REQUIRE(!d.ok());
    CHECK(d.status().message().find("mkdir -p") != std::string::npos);
    CHECK(DefaultDeliverGroup("/srv/arch/") == DefaultDeliverGroup("/srv/arch"));
    CHECK(DefaultDeliverGroup("/srv/arch").starts_with("deliver-arch-"));
    CHECK(DefaultDeliverGroup("/srv/arch") != DefaultDeliverGroup("/srv2/arch"));
  }
}
