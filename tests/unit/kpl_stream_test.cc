// KPL aggregation through the real store: kstream-put's producer packing
// user records per shard, the de-aggregating cursor every reader opens, and
// consumer-group checkpoints inside an aggregate.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "consume/deaggregate.h"
#include "consume/lease.h"
#include "kpl/aggregate.h"
#include "produce/aggregation.h"
#include "produce_fixture.h"

using namespace kstream;
using namespace kstest;

namespace {

std::string Aggregate(const std::vector<kpl::UserRecord>& records) {
  kpl::Aggregator a;
  for (const auto& r : records) a.Add(r);
  std::string out;
  a.AppendTo(out);
  return out;
}

struct UserRec {
  SequenceNumber sequence;
  std::optional<uint32_t> sub;
  std::string key, data;
  std::optional<uint128> ehk;
};

std::vector<UserRec> ReadUsers(ShardCursor& cursor, size_t batch_records) {
  std::vector<UserRec> out;
  RecordBatch batch;
  for (;;) {
    batch.Clear();
    auto st = cursor.Read(batch, batch_records, 1 << 20);
    REQUIRE_MESSAGE(st.ok(), st.status().message());
    CHECK(batch.size() <= batch_records);
    for (size_t i = 0; i < batch.size(); ++i) {
      auto r = batch[i];
      out.push_back({r.sequence, r.sub_sequence, std::string(r.partition_key), std::string(r.data),
                     r.explicit_hash_key});
    }
    if (*st != ShardCursor::State::kMore) return out;
  }
}

ProducerOptions Aggregating(ProduceFixture& f) {
  ProducerOptions o;
  o.aggregate = true;
  o.print_results = true;
  o.list_shards = [&f] { return f.store.ListShards("s"); };
  return o;
}

}  // namespace

TEST_SUITE("kpl_stream") {
  TEST_CASE("AggregatedPutsComeBackAsUserRecordsInOrderFromEveryShard") {
    ProduceFixture f;
    std::vector<std::string> lines;
    for (int i = 0; i < 3000; ++i) lines.push_back("record-" + std::to_string(i));
    auto r = Produce(f, Join(lines), Aggregating(f));
    REQUIRE_MESSAGE(r.status.ok(), r.status.message());
    CHECK(r.stats.records == lines.size());
    CHECK(r.stats.kinesis_records < lines.size() / 10);
    CHECK(r.stats.kinesis_records >= 4);

    // Raw: aggregates whose user records all hash into the shard holding them.
    const StreamMeta meta = f.Meta();
    size_t raw_records = 0;
    for (const auto& shard : meta.shards) {
      for (const Rec& raw : f.Shard(shard.index)) {
        ++raw_records;
        kpl::Decoder d;
        if (d.Decode(raw.data) == kpl::Decoder::Result::kPlain) {
          CHECK(OpenShardFor(meta, HashPartitionKey(raw.key)) == shard.index);
          continue;
        }
        REQUIRE(d.Decode(raw.data) == kpl::Decoder::Result::kAggregate);
        CHECK(raw.key == "a");
        REQUIRE(raw.explicit_hash_key);
        CHECK(*raw.explicit_hash_key == HashPartitionKey(d.records()[0].partition_key));
        CHECK(raw.data.size() <= kpl::kDefaultMaxSize);
        for (const auto& u : d.records())
          CHECK(OpenShardFor(meta, HashPartitionKey(u.partition_key)) == shard.index);
      }
    }
    CHECK(raw_records == r.stats.kinesis_records);

    // De-aggregated: every line once, in put order, where --print said it went.
    std::map<std::pair<SequenceNumber, uint32_t>, std::string> read;
    for (const auto& shard : meta.shards) {
      auto cursor = Value(OpenReadCursor(f.store, "s", shard.index, {}, {}));
      uint64_t last_line = 0;
      for (const UserRec& u : ReadUsers(*cursor, 7)) {
        const uint64_t line = std::stoull(u.data.substr(7));
        CHECK((last_line == 0 || line > last_line));  // one shard keeps put order
        last_line = line;
        read[{u.sequence, u.sub.value_or(0)}] = u.data;
      }
    }
    CHECK(read.size() == lines.size());
    auto printed = ParseEnvelopes(r.printed);
    REQUIRE(printed.size() == lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      CAPTURE(i);
      auto it = read.find({printed[i].sequence, uint32_t(printed[i].sub_sequence.value_or(0))});
      REQUIRE(it != read.end());
      CHECK(it->second == lines[i]);
    }
  }

  TEST_CASE("AggregatesKeepToMaxCountAndMaxSizeAndALoneRecordGoesAsItIs") {
    ShardAggregation agg({3, 200});
    const std::string big(300, 'b');
    auto add = [&](std::string_view key, std::string_view data) {
      agg.Add(0, HashPartitionKey(key), {key, std::nullopt, data});
    };
    for (int i = 0; i < 7; ++i) add("k", "small");  // 3 + 3 + 1
    add("k", big);                                  // too big to share: alone
    add("k", "x");
    add("k", "y");
    agg.CloseAll();
    const auto& outs = agg.outputs();
    REQUIRE(outs.size() == 5);
    CHECK(outs[0].aggregated);
    CHECK(outs[1].aggregated);
    CHECK(!outs[2].aggregated);  // the seventh small record alone
    CHECK(outs[2].first_user == 6);
    CHECK(!outs[3].aggregated);  // the big one
    CHECK(outs[3].first_user == 7);
    CHECK(outs[4].aggregated);
    for (const auto& o : outs)
      if (o.aggregated) CHECK(agg.data(o).size() <= 200);
    CHECK(agg.placement(4).output == 1);
    CHECK(agg.placement(4).sub_sequence == 1u);
    CHECK(!agg.placement(7).sub_sequence);
    CHECK(agg.placement(9).sub_sequence == 1u);
  }

  TEST_CASE("MalformedAggregatesArePassedOnRawAndCounted") {
    TestStore t;
    REQUIRE(t.store.CreateStream("s", 1, 24).ok());
    auto writer = Value(t.store.OpenWriter("s", SyncMode::kNever));
    const std::string good = Aggregate({{"k1", std::nullopt, "one"}, {"k2", uint128(5), "two"}});
    std::string bad_digest = good;
    bad_digest.back() ^= 1;
    const std::string truncated = std::string(kpl::kMagic) + "\x0a\x05" + std::string(16, 'x');
    PutOne(*writer, "p", "plain");
    PutOne(*writer, "a", good);
    PutOne(*writer, "a", bad_digest);
    PutOne(*writer, "a", truncated);
    PutOne(*writer, "a", good);
    uint64_t malformed = 0;
    auto cursor = Value(OpenReadCursor(t.store, "s", 0, {}, {true, &malformed}));
    auto users = ReadUsers(*cursor, 1);
    REQUIRE(users.size() == 7);
    CHECK(users[0].data == "plain");
    CHECK(!users[0].sub);
    CHECK(users[1].data == "one");
    CHECK(users[1].key == "k1");
    CHECK(users[1].sub == 0u);
    CHECK(users[2].data == "two");
    CHECK(users[2].ehk == uint128(5));
    CHECK(users[2].sub == 1u);
    CHECK(users[1].sequence == users[2].sequence);
    CHECK(users[3].data == bad_digest);
    CHECK(!users[3].sub);
    CHECK(users[4].data == truncated);
    CHECK(users[6].data == "two");
    CHECK(malformed == 2);

    uint64_t raw_count = 0;
    auto raw = Value(OpenReadCursor(t.store, "s", 0, {}, {false, &raw_count}));
    CHECK(ReadUsers(*raw, 100).size() == 5);
    CHECK(raw_count == 0);
  }

  TEST_CASE("WholeRecordReadsNeverEndInsideAnAggregate") {
    TestStore t;
    REQUIRE(t.store.CreateStream("s", 1, 24).ok());
    auto writer = Value(t.store.OpenWriter("s", SyncMode::kNever));
    std::vector<std::string> datas;
    for (int i = 0; i < 7; ++i) datas.push_back("d" + std::to_string(i));
    std::vector<kpl::UserRecord> users;
    for (const auto& d : datas) users.push_back({"k", std::nullopt, d});
    PutOne(*writer, "p", "plain-1");
    PutOne(*writer, "a", Aggregate(users));
    PutOne(*writer, "p", "plain-2");
    auto raw = Value(t.store.OpenCursor("s", 0, {}));
    DeaggregatingCursor cursor(std::move(raw), {}, nullptr, /*whole_records=*/true);
    std::vector<size_t> sizes;
    RecordBatch batch;
    for (;;) {
      batch.Clear();
      auto st = Value(cursor.Read(batch, 2, 1 << 20));
      sizes.push_back(batch.size());
      if (batch.size()) {
        const auto last = batch[batch.size() - 1];
        CHECK((!last.sub_sequence || *last.sub_sequence == 6));  // the aggregate's last
      }
      if (st != ShardCursor::State::kMore) break;
    }
    // plain-1 + the whole aggregate (8 > 2), then plain-2.
    CHECK(sizes == std::vector<size_t>{8, 1});
  }

  TEST_CASE("ACheckpointInsideAnAggregateResumesAtTheNextUserRecord") {
    TestStore t;
    REQUIRE(t.store.CreateStream("s", 1, 24).ok());
    auto writer = Value(t.store.OpenWriter("s", SyncMode::kNever));
    std::vector<std::string> datas;
    for (int i = 0; i < 5; ++i) datas.push_back("u" + std::to_string(i));
    std::vector<kpl::UserRecord> users;
    for (const auto& d : datas) users.push_back({"k", std::nullopt, d});
    const PutResult first = PutOne(*writer, "a", Aggregate(users));
    PutOne(*writer, "p", "after");

    Checkpoint cp = Checkpoint::Sequence(first.sequence);
    cp.sub_sequence = 2;
    Lease lease;
    lease.shard = 0;
    lease.checkpoint = cp;
    auto decoded = Value(DecodeLeases(EncodeLeases("s", "g", {lease}), "leases.json"));
    REQUIRE(decoded.size() == 1);
    CHECK(decoded[0].checkpoint == cp);

    const StartPosition at = cp.ResumePosition();
    CHECK(at.type == IteratorType::kAtSequenceNumber);
    auto cursor = Value(OpenReadCursor(t.store, "s", 0, at, {}));
    auto rest = ReadUsers(*cursor, 2);
    REQUIRE(rest.size() == 3);
    CHECK(rest[0].data == "u3");
    CHECK(rest[0].sub == 3u);
    CHECK(rest[1].data == "u4");
    CHECK(rest[2].data == "after");

    // Through the last user record: nothing of the aggregate again.
    cp.sub_sequence = 4;
    auto end = Value(OpenReadCursor(t.store, "s", 0, cp.ResumePosition(), {}));
    auto after = ReadUsers(*end, 10);
    REQUIRE(after.size() == 1);
    CHECK(after[0].data == "after");

    // A raw reader reads the whole record again (at least once).
    auto raw = Value(OpenReadCursor(t.store, "s", 0, cp.ResumePosition(), {false, nullptr}));
    CHECK(ReadUsers(*raw, 10).size() == 2);
  }

  TEST_CASE("LeaseFilesWithoutASubSequenceNumberResumeAfterTheRecord") {
    const std::string old_format = R"({"format": 1, "stream": "s", "group": "g", "leases": [
      {"leaseKey": "shardId-000000000000", "leaseCounter": 3, "leaseRenewedMs": 0,
       "leaseTimeoutMs": 10000, "checkpoint": "18446744073709551620",
       "ownerSwitchesSinceCheckpoint": 0, "parentShardId": []}]})";
    auto leases = Value(DecodeLeases(old_format, "leases.json"));
    REQUIRE(leases.size() == 1);
    CHECK(!leases[0].checkpoint.sub_sequence);
    CHECK(leases[0].checkpoint.ResumePosition().type == IteratorType::kAfterSequenceNumber);
    // And a plain checkpoint is written as before, without the new field.
    CHECK(EncodeLeases("s", "g", leases).find("SubSequence") == std::string::npos);
  }
}
