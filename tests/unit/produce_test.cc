// lib/produce: RunProducer end to end, from a real pipe into a LocalStore
// stream, checked by reading the shards back through cursors.
#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/text.h"
#include "produce_fixture.h"

using namespace kstream;
using namespace kstest;

namespace {

void OnSignal(int) {}

}  // namespace

TEST_SUITE("produce") {
  TEST_CASE("FixedKeyPutsEveryRecordInOneShardInInputOrder") {
    ProduceFixture f;
    std::vector<std::string> lines;
    uint64_t bytes = 0;
    for (int i = 0; i < 500; ++i) {
      lines.push_back("record " + std::to_string(i));
      bytes += lines.back().size();
    }
    auto r = Produce(f, Join(lines), Fixed("fixed"), 100);
    REQUIRE_MESSAGE(r.status.ok(), r.status.message());
    CHECK(r.stats.records == 500);
    CHECK(r.stats.bytes == bytes);
    CHECK(r.printed.empty());  // nothing printed unless asked
    const uint64_t target = kstest::OpenShardFor(f.Meta(), HashPartitionKey("fixed"));
    for (uint64_t s = 0; s < 4; ++s) {
      auto recs = f.Shard(s);
      if (s != target) {
        CHECK(recs.empty());
        continue;
      }
      REQUIRE(recs.size() == 500);
      for (size_t i = 0; i < recs.size(); ++i) {
        CHECK(recs[i].data == lines[i]);
        CHECK(recs[i].key == "fixed");
        CHECK(!recs[i].explicit_hash_key);
      }
    }
  }

  TEST_CASE("ExplicitHashKeyOptionOverridesTheKeyHash") {
    ProduceFixture f;
    auto o = Fixed("fixed");
    o.explicit_hash_key = f.Meta().FindShard(2)->start_hash;
    auto r = Produce(f, "a\nb\n", o);
    REQUIRE(r.status.ok());
    auto recs = f.Shard(2);
    REQUIRE(recs.size() == 2);
    CHECK(recs[1].explicit_hash_key == o.explicit_hash_key);
  }

  TEST_CASE("RandomKeysSpreadOverTheShards") {
    ProduceFixture f;
    auto r = Produce(f, Join(std::vector<std::string>(400, "x")), ProducerOptions{});
    REQUIRE(r.status.ok());
    CHECK(r.stats.records == 400);
    for (uint64_t s = 0; s < 4; ++s) {
      auto recs = f.Shard(s);
      CHECK(recs.size() > 20);
      for (const auto& rec : recs) {
        CHECK(rec.key.size() == 16);
        CHECK(kstest::OpenShardFor(f.Meta(), HashPartitionKey(rec.key)) == s);
      }
    }
  }

  TEST_CASE("KeyFieldRoutesLikeHashPartitionKeyAndKeepsOrderPerKey") {
    ProduceFixture f;
    std::vector<std::string> lines = UserLines(300);
    for (int i = 0; i < 20; ++i)  // numbers and booleans become their JSON text
      lines.push_back(R"({"id":)" + std::string(i % 2 ? "true" : "12") + "}");
    auto r = Produce(f, Join(lines), ByField("id"), 333);
    REQUIRE_MESSAGE(r.status.ok(), r.status.message());
    CHECK(r.stats.records == lines.size());
    std::map<std::string, std::vector<std::string>> per_key;
    const auto meta = f.Meta();
    for (uint64_t s = 0; s < 4; ++s)
      for (const auto& rec : f.Shard(s)) {
        CHECK(kstest::OpenShardFor(meta, HashPartitionKey(rec.key)) == s);
        per_key[rec.key].push_back(rec.data);
      }
    std::map<std::string, std::vector<std::string>> want;
    for (int i = 0; i < 300; ++i) want["u" + std::to_string(i % 13)].push_back(lines[size_t(i)]);
    for (int i = 0; i < 20; ++i) want[i % 2 ? "true" : "12"].push_back(lines[size_t(300 + i)]);
    CHECK(per_key == want);
  }

  TEST_CASE("JsonEntriesAreDecodedAndRoutedByTheirExplicitHashKey") {
    ProduceFixture f;
    const uint128 shard3 = f.Meta().FindShard(3)->start_hash;
    std::vector<std::string> lines, datas;
    for (int i = 0; i < 50; ++i) {
      std::string data = std::string("bytes\n\0", 7) + std::to_string(i);
      std::string line = R"({"PartitionKey":"pk)" + std::to_string(i) + R"(","Data":")";
      AppendBase64(line, data);
      line += '"';
      if (i % 5 == 0) line += R"(,"ExplicitHashKey":")" + ToDecimal(shard3) + '"';
      lines.push_back(line + "}");
      datas.push_back(data);
    }
    auto o = ProducerOptions{};
    o.key_source = KeySource::kJsonEntry;
    o.print_results = true;
    auto r = Produce(f, Join(lines), o);
    REQUIRE_MESSAGE(r.status.ok(), r.status.message());
    CheckPrintedMatchesStore(f, r.printed, datas);
    auto results = kstest::ParseEnvelopes(r.printed);
    const auto meta = f.Meta();
    auto all = f.All();
    for (int i = 0; i < 50; ++i) {
      const Rec& rec = all.at(results[size_t(i)].sequence).second;
      CHECK(rec.key == "pk" + std::to_string(i));
      if (i % 5 == 0) {
        CHECK(results[size_t(i)].shard == 3);
        CHECK(rec.explicit_hash_key == std::optional<uint128>(shard3));
      } else {
        CHECK(results[size_t(i)].shard == kstest::OpenShardFor(meta, HashPartitionKey(rec.key)));
      }
    }
  }

  TEST_CASE("AnInvalidLineStopsTheRunAfterWritingAndReportingEveryEarlierRecord") {
    for (SyncMode sync : {SyncMode::kAlways, SyncMode::kBatch, SyncMode::kNever}) {
      for (size_t batch : {size_t(2), size_t(10000)}) {
        CAPTURE(int(sync));
        CAPTURE(batch);
        ProduceFixture f;
        auto lines = UserLines(12, {7});
        auto o = ByField("id");
        o.sync = sync;
        o.batch_records = batch;
        o.print_results = true;
        auto r = Produce(f, Join(lines), o, 50);
        CHECK(r.status.code() == StatusCode::kInvalidArgument);
        CHECK_MESSAGE(r.status.message().rfind("line 7: invalid JSON", 0) == 0, r.status.message());
        CHECK(r.stats.records == 6);
        CheckPrintedMatchesStore(f, r.printed, {lines.begin(), lines.begin() + 6});
      }
    }
  }

  TEST_CASE("SkipInvalidCountsSkippedLinesAndWritesTheRest") {
    ProduceFixture f;
    auto lines = UserLines(10, {2, 5});
    auto o = ByField("id");
    o.skip_invalid = true;
    o.print_results = true;
    auto r = Produce(f, Join(lines), o);
    REQUIRE_MESSAGE(r.status.ok(), r.status.message());
    CHECK(r.stats.skipped == 2);
    CHECK(r.stats.first_skip_reason == "line 2: field 'id' is missing");
    CHECK(r.stats.records == 8);
    std::vector<std::string> good = lines;
    good.erase(good.begin() + 4);
    good.erase(good.begin() + 1);
    CheckPrintedMatchesStore(f, r.printed, good);
  }

  TEST_CASE("RecordsOutsideTheKinesisLimitsAreRejectedWithTheirLine") {
    auto rejects = [](ProducerOptions o, const std::string& input, std::string_view want,
                      uint64_t written) {
      ProduceFixture f;
      auto r = Produce(f, input, o);
      CHECK(r.status.code() == StatusCode::kInvalidArgument);
      CHECK_MESSAGE(r.status.message() == want, r.status.message());
      CHECK(r.stats.records == written);
      CHECK(CountStored(f) == written);
    };
    rejects(Fixed(""), "a\n", "line 1: partition key is empty", 0);
    rejects(Fixed(std::string(257, 'k')), "a\n",
            "line 1: partition key is longer than 256 characters", 0);
    rejects(ByField("id"), "{\"id\":\"ok\"}\n{\"id\":\"" + std::string(257, 'k') + "\"}\n",
            "line 2: partition key is longer than 256 characters", 1);
    rejects(ByField("id"), "{\"id\":\"ok\"}\n{\"id\":\"\"}\n", "line 2: partition key is empty", 1);
    // Key plus data at most 1 MiB: "k" and 1 MiB - 1 bytes fit, 1 MiB does not.
    const std::string fits(kMaxRecordBytes - 1, 'd');
    rejects(Fixed("k"), fits + "\n" + fits + "d\n",
            "line 2: record is larger than 1 MiB (the Kinesis limit)", 1);
    rejects(Fixed("k"), fits + "\n" + fits + "dd\nnext\n",  // too long for the reader itself
            "line 2: record is larger than 1 MiB (the Kinesis limit)", 1);

    ProduceFixture f;
    auto r = Produce(f, "a\n", Fixed(std::string(256, 'k')));
    CHECK(r.status.ok());
    CHECK(f.Shard(kstest::OpenShardFor(f.Meta(), HashPartitionKey(std::string(256, 'k')))).size() ==
          1);
    std::string e256, e257;
    for (int i = 0; i < 256; ++i) e256 += "\xc3\xa9";  // characters are counted, not bytes
    e257 = e256 + "\xc3\xa9";
    CHECK(CheckRecordLimits(e256, 0).ok());
    CHECK(!CheckRecordLimits(e257, 0).ok());
    CHECK(CheckRecordLimits(std::string(256, 'k'), kMaxRecordBytes - 256).ok());
    CHECK(!CheckRecordLimits(std::string(256, 'k'), kMaxRecordBytes - 255).ok());
  }

  TEST_CASE("EverySyncModeWritesAndReportsEveryRecordInInputOrder") {
    for (SyncMode sync : {SyncMode::kAlways, SyncMode::kBatch, SyncMode::kNever}) {
      CAPTURE(int(sync));
      ProduceFixture f;
      auto lines = UserLines(2000);
      auto o = ByField("id");
      o.sync = sync;
      o.batch_records = 64;
      o.sync_interval_ms = 0;
      o.print_results = true;
      uint64_t progress_calls = 0;
      o.on_progress = [&](const ProducerStats&) { ++progress_calls; };
      auto r = Produce(f, Join(lines), o, 1000);
      REQUIRE_MESSAGE(r.status.ok(), r.status.message());
      CHECK(r.stats.records == 2000);
      CHECK(progress_calls > 0);
      CheckPrintedMatchesStore(f, r.printed, lines);
    }
  }

  TEST_CASE("NulDelimitedInputKeepsNewlinesInRecords") {
    ProduceFixture f;
    auto r = Produce(f, std::string("a\nb\0c\0", 6), Fixed("k"), 2, '\0');
    REQUIRE(r.status.ok());
    auto recs = f.Shard(kstest::OpenShardFor(f.Meta(), HashPartitionKey("k")));
    REQUIRE(recs.size() == 2);
    CHECK(recs[0].data == "a\nb");
    CHECK(recs[1].data == "c");
  }

  TEST_CASE("WithLingerZeroARecordIsWrittenAndReportedWhileTheInputStaysOpen") {
    for (SyncMode sync : {SyncMode::kAlways, SyncMode::kBatch, SyncMode::kNever}) {
      CAPTURE(int(sync));
      ProduceFixture f;
      auto o = Fixed("k");
      o.sync = sync;
      o.print_results = true;
      BackgroundProducer p(f, o);
      for (int i = 1; i <= 3; ++i) {
        p.in.Write("rec" + std::to_string(i) + "\n");
        CHECK(WaitUntil([&] { return CountStored(f) == size_t(i); }));
        CHECK(WaitUntil([&] { return kstest::Split(p.out.Contents()).size() == size_t(i); }));
      }
      REQUIRE(p.Finish());
      CHECK(p.status.ok());
      CHECK(p.stats.records == 3);
    }
  }

  TEST_CASE("LingerHoldsATrickleUntilItIsUpOrTheBatchIsFull") {
    ProduceFixture f;
    auto o = Fixed("k");
    o.linger_ms = 60000;  // measured on the fake clock; never ends by itself
    o.batch_records = 3;
    BackgroundProducer p(f, o);
    p.in.Write("one\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(CountStored(f) == 0);
    f.env.Advance(60001);  // the linger is up: the next record goes out with it
    p.in.Write("two\n");
    CHECK(WaitUntil([&] { return CountStored(f) == 2; }));
    p.in.Write("three\nfour\nfive\n");  // a full batch goes out at once
    CHECK(WaitUntil([&] { return CountStored(f) == 5; }));
    REQUIRE(p.Finish());
    CHECK(p.stats.records == 5);
  }

  TEST_CASE("StopFlagEndsTheRunWithEverythingAcceptedWritten") {
    for (SyncMode sync : {SyncMode::kBatch, SyncMode::kNever}) {
      CAPTURE(int(sync));
      ProduceFixture f;
      auto o = Fixed("k");
      o.sync = sync;
      o.print_results = true;
      BackgroundProducer p(f, o);
      p.in.Write("a\nb\nc\n");
      REQUIRE(WaitUntil([&] { return CountStored(f) == 3; }));
      p.stop = true;
      p.in.Write("late\n");  // wakes the loop, which then sees the flag
      REQUIRE(WaitUntil([&] { return p.done.load(); }));
      CHECK(p.status.ok());
      CHECK(p.stats.records == 3);
      CHECK(CountStored(f) == 3);
      CHECK(kstest::Split(p.out.Contents()).size() == 3);
    }
  }

  TEST_CASE("ASignalWithTheStopFlagSetEndsABlockedRun") {
    struct sigaction sa = {}, old = {};
    sa.sa_handler = OnSignal;  // no SA_RESTART, like the tools' stop handlers
    REQUIRE(::sigaction(SIGUSR1, &sa, &old) == 0);
    for (SyncMode sync : {SyncMode::kBatch, SyncMode::kNever}) {
      CAPTURE(int(sync));
      ProduceFixture f;
      auto o = Fixed("k");
      o.sync = sync;
      BackgroundProducer p(f, o);
      p.in.Write("a\nb\n");
      REQUIRE(WaitUntil([&] { return CountStored(f) == 2; }));
      p.stop = true;
      CHECK(WaitUntil([&] {
        ::pthread_kill(p.thread.native_handle(), SIGUSR1);
        return p.done.load();
      }));
      CHECK(p.status.ok());
      CHECK(p.stats.records == 2);
    }
    ::sigaction(SIGUSR1, &old, nullptr);
  }
}
