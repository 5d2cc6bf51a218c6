#include "produce/producer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>

#include "core/stop_flag.h"
#include "core/text.h"

namespace kstream {
namespace {

// The partition key of an aggregated Kinesis record, as the KPL sets it: the
// user records carry their own keys and the explicit hash key routes it.
constexpr std::string_view kAggregateKey = "a";
constexpr uint64_t kUnknownShard = ~uint64_t(0);

// Counts Unicode code points (Kinesis limits keys in characters).
size_t CountChars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

class Producer {
 public:
  Producer(StreamWriter& writer, const ProducerOptions& o, RecordWriter& results,
           ProducerStats& stats, Env* env)
      : writer_(writer), o_(o), results_(results), stats_(stats), env_(env), agg_(o.aggregation) {
    rng_ = uint64_t(env->NowMillis()) * 0x9e3779b97f4a7c15ull ^ uint64_t(getpid()) << 32;
    last_flush_ms_ = last_sync_ms_ = env->NowMillis();
  }

  // Adds one input record; an invalid one is reported (or skipped).
  Status Add(const RecordReader::Item& item) {
    Status s = AddChecked(item);
    if (s.ok()) return s;
    const std::string where = "line " + std::to_string(item.number) + ": ";
    if (o_.skip_invalid) {
      if (stats_.skipped++ == 0) stats_.first_skip_reason = where + s.message();
      if (o_.on_failed)
        o_.on_failed({item.number, s.message(), std::nullopt, std::nullopt, item.data});
      return Status::Ok();
    }
    return Status::InvalidArgument(where + s.message());
  }

  bool BatchFull() const {
    if (o_.aggregate)
      return agg_.kinesis_records() >= o_.batch_records || agg_.bytes() >= o_.batch_bytes;
    return pending_.size() >= o_.batch_records || arena_.size() >= o_.batch_bytes;
  }

  // --aggregate: (re)reads the shard map that predicts where records go.
  Status LoadShardMap() {
    if (!o_.aggregate) return Status::Ok();
    KS_ASSIGN_OR_RETURN(shard_map_, o_.list_shards());
    return Status::Ok();
  }
  bool HasPending() const { return !pending_.empty(); }
  int64_t MillisSinceFlush() const { return env_->NowMillis() - last_flush_ms_; }
  int sync_event_fd() const { return writer_.sync_event_fd(); }

  // Writes the pending batch (durable at once with --sync always).
  Status Flush() {
    last_flush_ms_ = env_->NowMillis();
    if (pending_.empty()) return Status::Ok();
    views_.clear();
    if (o_.aggregate) {
      agg_.CloseAll();
      for (const auto& out : agg_.outputs())
        views_.push_back(out.aggregated ? PutRecord{kAggregateKey, agg_.data(out), out.hash_key}
                                        : View(pending_[out.first_user]));
    } else {
      for (const auto& p : pending_) views_.push_back(View(p));
    }
    if (Status s = writer_.Put(views_, put_results_); !s.ok()) {
      ReportFailed(s);
      return s;
    }
    // Records the writer gave up on (a remote stream's record TTL): each of
    // their user records is reported failed; the rest were written.
    refused_.assign(views_.size(), nullptr);
    const size_t unacked_before = unacked_.size();
    for (const auto& e : writer_.record_errors()) refused_[e.index] = &e.message;
    bool missed = false;
    for (size_t i = 0; i < pending_.size(); ++i) {
      const Pending& p = pending_[i];
      const size_t view = o_.aggregate ? agg_.placement(uint32_t(i)).output : i;
      if (refused_[view]) {
        ReportFailed(p, *refused_[view]);
        continue;
      }
      if (!o_.aggregate) {
        unacked_.push_back({put_results_[i], std::nullopt, p.data_len, p.accepted_ms});
        continue;
      }
      const auto& at = agg_.placement(uint32_t(i));
      unacked_.push_back({put_results_[at.output], at.sub_sequence, p.data_len, p.accepted_ms});
    }
    for (size_t j = 0; o_.aggregate && j < views_.size(); ++j)
      missed |= !refused_[j] && put_results_[j].shard_index != agg_.outputs()[j].predicted_shard;
    stats_.kinesis_records += views_.size() - writer_.record_errors().size();
    unsubmitted_ += unacked_.size() - unacked_before;
    pending_.clear();
    arena_.clear();
    agg_.Clear();
    if (missed) KS_RETURN_IF_ERROR(LoadShardMap());  // the stream was resharded
    if (o_.sync != SyncMode::kBatch) return Acknowledge(unacked_.size());  // durable enough now
    return Status::Ok();
  }

  // --sync batch: starts a background sync of everything written when none
  // is running and the input pauses or the interval is up. Writing goes on
  // while it runs; records are reported when it completes.
  Status MaybeBeginSync(bool input_idle) {
    if (unsubmitted_ == 0 || in_flight_) return Status::Ok();
    if (!input_idle && env_->NowMillis() - last_sync_ms_ < o_.sync_interval_ms) return Status::Ok();
    KS_ASSIGN_OR_RETURN(uint64_t ticket, writer_.BeginSync());
    groups_.push_back({ticket, unsubmitted_});
    unsubmitted_ = 0;
    in_flight_ = true;
    last_sync_ms_ = env_->NowMillis();
    return Status::Ok();
  }

  // Reports the records whose sync has completed.
  Status AcknowledgeSynced() {
    if (groups_.empty()) return Status::Ok();
    KS_ASSIGN_OR_RETURN(uint64_t synced, writer_.SyncedTicket());
    size_t count = 0;
    while (!groups_.empty() && groups_.front().ticket <= synced) {
      count += groups_.front().records;
      groups_.pop_front();
    }
    in_flight_ = !groups_.empty();
    return count ? Acknowledge(count) : Status::Ok();
  }

  // Makes everything written durable, then reports it (at the end).
  Status SyncAndAcknowledgeAll() {
    if (unacked_.empty()) return Status::Ok();
    KS_RETURN_IF_ERROR(writer_.Sync());
    groups_.clear();
    unsubmitted_ = 0;
    in_flight_ = false;
    return Acknowledge(unacked_.size());
  }

 private:
  struct Pending {
    size_t offset;
    uint32_t key_len;
    uint32_t data_len;
    std::optional<uint128> explicit_hash_key;
    uint64_t line;
    int64_t accepted_ms;
  };

  PutRecord View(const Pending& p) const {
    return {std::string_view(arena_.data() + p.offset, p.key_len),
            std::string_view(arena_.data() + p.offset + p.key_len, p.data_len),
            p.explicit_hash_key};
  }

  // A failed write: every record of the batch is reported (some may be in
  // the store: the writer does not say which).
  void ReportFailed(const Status& s) {
    for (const Pending& p : pending_) ReportFailed(p, s.message());
  }
  void ReportFailed(const Pending& p, std::string_view error) {
    ++stats_.failed;
    if (!o_.on_failed) return;
    const PutRecord v = View(p);
    o_.on_failed({p.line, error, v.partition_key, v.explicit_hash_key, v.data});
  }

  uint64_t PredictShard(uint128 hash_key) const {
    const ShardMeta* shard = shard_map_.OpenShardFor(hash_key);
    return shard ? shard->index : kUnknownShard;
  }

  Status AddChecked(const RecordReader::Item& item) {
    if (item.too_long)
      return Status::InvalidArgument("record is larger than 1 MiB (the Kinesis limit)");
    std::string_view key, data = item.data;
    std::optional<uint128> ehk = o_.explicit_hash_key;
    char random_key[16];
    switch (o_.key_source) {
      case KeySource::kFixed:
        key = o_.fixed_key;
        break;
      case KeySource::kField: {
        KS_ASSIGN_OR_RETURN(key, json_.KeyField(item.data, *o_.key_field));
        break;
      }
      case KeySource::kJsonEntry: {
        KS_RETURN_IF_ERROR(json_.PutEntry(item.data, entry_));
        key = entry_.partition_key;
        data = entry_.data;
        if (entry_.explicit_hash_key) ehk = entry_.explicit_hash_key;
        break;
      }
      case KeySource::kRandom: {
        uint64_t r = NextRandom();
        static constexpr char kHex[] = "0123456789abcdef";
        for (int i = 0; i < 16; ++i) random_key[i] = kHex[(r >> (i * 4)) & 15];
        key = std::string_view(random_key, 16);
        break;
      }
    }
    KS_RETURN_IF_ERROR(CheckRecordLimits(key, data.size()));
    if (o_.aggregate) {
      const uint128 hash_key = ehk ? *ehk : HashPartitionKey(key);
      agg_.Add(PredictShard(hash_key), hash_key, {key, ehk, data});
    }
    pending_.push_back({arena_.size(), uint32_t(key.size()), uint32_t(data.size()), ehk,
                        item.number, env_->NowMillis()});
    arena_.append(key);
    arena_.append(data);
    return Status::Ok();
  }

  uint64_t NextRandom() {  // splitmix64
    uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // Reports the oldest `count` written records.
  Status Acknowledge(size_t count) {
    const int64_t now = env_->NowMillis();
    for (size_t i = 0; i < count; ++i) {
      const Unacked& u = unacked_[i];
      if (o_.print_results) {
        line_.clear();
        line_ += "{\"ShardId\":\"";
        line_ += ShardIdFor(u.result.shard_index);
        line_ += "\",\"SequenceNumber\":\"";
        AppendDecimal(line_, u.result.sequence);
        line_ += '"';
        if (u.sub_sequence) line_ += ",\"SubSequenceNumber\":" + std::to_string(*u.sub_sequence);
        line_ += "}\n";
        results_.Append(line_);
      }
      stats_.bytes += u.data_bytes;
      stats_.latency.Add(now - u.accepted_ms);
    }
    stats_.records += count;
    unacked_.erase(unacked_.begin(), unacked_.begin() + std::ptrdiff_t(count));
    if (o_.print_results) KS_RETURN_IF_ERROR(results_.Flush());
    if (o_.on_progress) o_.on_progress(stats_);
    return Status::Ok();
  }

  struct Unacked {
    PutResult result;
    std::optional<uint32_t> sub_sequence;  // a user record in an aggregate
    uint32_t data_bytes;
    int64_t accepted_ms;
  };
  struct SyncGroup {
    uint64_t ticket;
    size_t records;  // the next this many unacked records
  };

  StreamWriter& writer_;
  const ProducerOptions& o_;
  RecordWriter& results_;
  ProducerStats& stats_;
  Env* env_;
  JsonLineParser json_;
  JsonLineParser::Entry entry_;
  std::string arena_;
  std::vector<Pending> pending_;
  std::vector<PutRecord> views_;
  std::vector<PutResult> put_results_;
  std::vector<const std::string*> refused_;  // by view: the writer's error, if it gave up
  std::deque<Unacked> unacked_;              // written, not yet reported, in input order
  std::deque<SyncGroup> groups_;             // syncs in flight, oldest first
  size_t unsubmitted_ = 0;                   // written records no sync covers yet
  bool in_flight_ = false;
  std::string line_;
  ShardAggregation agg_;
  StreamMeta shard_map_;
  uint64_t rng_;
  int64_t last_flush_ms_;
  int64_t last_sync_ms_;
};

}  // namespace

void LatencyHistogram::Add(int64_t ms) {
  constexpr size_t kBuckets = 10001;
  if (buckets_.empty()) buckets_.resize(kBuckets);
  ms = std::max<int64_t>(ms, 0);
  ++buckets_[std::min<size_t>(size_t(ms), kBuckets - 1)];
  ++count_;
  max_ = std::max(max_, ms);
}

int64_t LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(1, uint64_t(std::ceil(p * double(count_))));
  uint64_t seen = 0;
  for (size_t ms = 0; ms < buckets_.size(); ++ms) {
    seen += buckets_[ms];
    if (seen >= rank) return ms + 1 == buckets_.size() ? max_ : int64_t(ms);
  }
  return max_;
}

void AppendFailedRecord(std::string& out, const FailedRecord& f) {
  out += "{\"Line\":" + std::to_string(f.line) + ",\"Error\":";
  AppendJsonString(out, f.error);
  if (f.partition_key) {
    out += ",\"PartitionKey\":";
    AppendJsonString(out, *f.partition_key);
  }
  if (f.explicit_hash_key) {
    out += ",\"ExplicitHashKey\":\"";
    AppendDecimal(out, *f.explicit_hash_key);
    out += '"';
  }
  out += ",\"Data\":\"";
  AppendBase64(out, f.data);
  out += "\"}\n";
}

void AppendProducerStats(std::string& out, const ProducerStats& s, uint64_t retries,
                         uint64_t throttles) {
  char ratio[32];
  std::snprintf(ratio, sizeof(ratio), "%.2f",
                s.kinesis_records ? double(s.records) / double(s.kinesis_records) : 0.0);
  out += "{\"UserRecords\":" + std::to_string(s.records) +
         ",\"KinesisRecords\":" + std::to_string(s.kinesis_records) +
         ",\"AggregationRatio\":" + ratio + ",\"Bytes\":" + std::to_string(s.bytes) +
         ",\"Skipped\":" + std::to_string(s.skipped) + ",\"Failed\":" + std::to_string(s.failed) +
         ",\"Retries\":" + std::to_string(retries) + ",\"Throttles\":" + std::to_string(throttles) +
         ",\"LatencyMs\":{\"p50\":" + std::to_string(s.latency.Percentile(0.5)) +
         ",\"p90\":" + std::to_string(s.latency.Percentile(0.9)) +
         ",\"p99\":" + std::to_string(s.latency.Percentile(0.99)) +
         ",\"max\":" + std::to_string(s.latency.max()) + "}}\n";
}

Status CheckRecordLimits(std::string_view key, size_t data_size) {
  if (key.empty()) return Status::InvalidArgument("partition key is empty");
  if (CountChars(key) > kMaxPartitionKeyChars)
    return Status::InvalidArgument("partition key is longer than 256 characters");
  if (key.size() + data_size > kMaxRecordBytes)
    return Status::InvalidArgument("record is larger than 1 MiB (the Kinesis limit)");
  return Status::Ok();
}

Status RunProducer(StreamWriter& writer, RecordReader& input, const ProducerOptions& o,
                   RecordWriter& results, ProducerStats& stats, Env* env, const StopFlag* stop) {
  if (o.aggregate && !o.list_shards)
    return Status::InvalidArgument("aggregation needs the stream's shard map");
  writer.AllowRecordErrors();  // each given-up record is reported (on_failed)
  Producer p(writer, o, results, stats, env);
  KS_RETURN_IF_ERROR(p.LoadShardMap());
  RecordReader::Item item;
  Status failure;
  bool write_failed = false;  // the batch in hand could not be written
  const auto flush = [&] {
    failure = p.Flush();
    write_failed = !failure.ok();
  };
  while (failure.ok() && !*stop) {
    while (input.Next(item)) {
      failure = p.Add(item);
      if (failure.ok() && p.BatchFull()) flush();
      if (!failure.ok()) break;
    }
    if (!failure.ok() || input.at_eof()) break;
    // Input drained. Write now if the last write was a linger ago, else wait
    // up to the rest of the linger for more: isolated records go out at once,
    // a trickle is grouped into at most one write per linger.
    if (p.HasPending()) {
      const int64_t wait = o.linger_ms - p.MillisSinceFlush();
      if (wait <= 0 || !input.WaitReadable(int(wait))) flush();
      if (!failure.ok()) break;
    }
    if (o.sync == SyncMode::kBatch) {
      KS_RETURN_IF_ERROR(p.AcknowledgeSynced());
      KS_RETURN_IF_ERROR(p.MaybeBeginSync(!p.HasPending() && !input.WaitReadable(0)));
      // Sleep until input arrives, waking to report records as syncs finish.
      while (!p.HasPending() && !*stop) {
        const int ready = input.WaitReadableOr(p.sync_event_fd(), -1);
        if (ready & RecordReader::kOtherReady) {
          uint64_t drained;
          (void)!::read(p.sync_event_fd(), &drained, sizeof(drained));
          KS_RETURN_IF_ERROR(p.AcknowledgeSynced());
          KS_RETURN_IF_ERROR(p.MaybeBeginSync(!(ready & RecordReader::kInputReady)));
        }
        if (ready & RecordReader::kInputReady) break;
      }
    }
    if (*stop) break;
    auto more = input.Fill();
    if (!more.ok()) {
      failure = more.status();
      break;
    }
  }
  // Everything accepted before the end (or a bad line) is written. What was
  // written is made durable and reported, also after a failed write (a full
  // disk): the batches before the failed one are on disk and must be
  // reported, or a caller would put them again.
  if (!write_failed) KS_RETURN_IF_ERROR(p.Flush());
  Status synced = p.SyncAndAcknowledgeAll();
  if (!failure.ok()) return failure;
  if (synced.ok() && stats.failed > 0)
    return Status::LimitExceeded(std::to_string(stats.failed) +
                                 " record(s) could not be written (see the failed records)");
  return synced;
}

}  // namespace kstream
