#include "produce/producer.h"

#include <unistd.h>

#include <chrono>

#include "core/text.h"

namespace kstream {
namespace {

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
      : writer_(writer), o_(o), results_(results), stats_(stats), env_(env) {
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
      return Status::Ok();
    }
    return Status::InvalidArgument(where + s.message());
  }

  bool BatchFull() const {
    return pending_.size() >= o_.batch_records || arena_.size() >= o_.batch_bytes;
  }
  bool HasPending() const { return !pending_.empty(); }
  bool HasUnsynced() const { return !unacked_.empty(); }
  int64_t MillisSinceFlush() const { return env_->NowMillis() - last_flush_ms_; }
  int64_t MillisSinceSync() const { return env_->NowMillis() - last_sync_ms_; }

  // Writes the pending batch (durable per --sync always).
  Status Flush() {
    last_flush_ms_ = env_->NowMillis();
    if (pending_.empty()) return Status::Ok();
    views_.clear();
    for (const auto& p : pending_)
      views_.push_back({std::string_view(arena_.data() + p.offset, p.key_len),
                        std::string_view(arena_.data() + p.offset + p.key_len, p.data_len),
                        p.explicit_hash_key});
    KS_RETURN_IF_ERROR(writer_.Put(views_, put_results_));
    for (size_t i = 0; i < pending_.size(); ++i) {
      unacked_.push_back(put_results_[i]);
      unacked_bytes_ += pending_[i].data_len;
    }
    pending_.clear();
    arena_.clear();
    if (o_.sync == SyncMode::kAlways) return Acknowledge();  // Put already synced
    return Status::Ok();
  }

  // Makes everything written durable, then reports it.
  Status SyncAndAcknowledge() {
    if (unacked_.empty()) return Status::Ok();
    KS_RETURN_IF_ERROR(writer_.Sync());
    return Acknowledge();
  }

 private:
  struct Pending {
    size_t offset;
    uint32_t key_len;
    uint32_t data_len;
    std::optional<uint128> explicit_hash_key;
  };

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
    pending_.push_back({arena_.size(), uint32_t(key.size()), uint32_t(data.size()), ehk});
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

  Status Acknowledge() {
    last_sync_ms_ = env_->NowMillis();
    if (o_.print_results) {
      for (const auto& r : unacked_) {
        line_.clear();
        line_ += "{\"ShardId\":\"";
        line_ += ShardIdFor(r.shard_index);
        line_ += "\",\"SequenceNumber\":\"";
        AppendDecimal(line_, r.sequence);
        line_ += "\"}\n";
        results_.Append(line_);
      }
      KS_RETURN_IF_ERROR(results_.Flush());
    }
    stats_.records += unacked_.size();
    stats_.bytes += unacked_bytes_;
    unacked_.clear();
    unacked_bytes_ = 0;
    if (o_.on_progress) o_.on_progress(stats_);
    return Status::Ok();
  }

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
  std::vector<PutResult> unacked_;
  uint64_t unacked_bytes_ = 0;
  std::string line_;
  uint64_t rng_;
  int64_t last_flush_ms_;
  int64_t last_sync_ms_;
};

}  // namespace

Status CheckRecordLimits(std::string_view key, size_t data_size) {
  if (key.empty()) return Status::InvalidArgument("partition key is empty");
  if (CountChars(key) > kMaxPartitionKeyChars)
    return Status::InvalidArgument("partition key is longer than 256 characters");
  if (key.size() + data_size > kMaxRecordBytes)
    return Status::InvalidArgument("record is larger than 1 MiB (the Kinesis limit)");
  return Status::Ok();
}

Status RunProducer(StreamWriter& writer, RecordReader& input, const ProducerOptions& o,
                   RecordWriter& results, ProducerStats& stats, Env* env,
                   const volatile bool* stop) {
  Producer p(writer, o, results, stats, env);
  RecordReader::Item item;
  Status failure;
  while (failure.ok() && !*stop) {
    while (input.Next(item)) {
      failure = p.Add(item);
      if (!failure.ok()) break;
      if (p.BatchFull()) KS_RETURN_IF_ERROR(p.Flush());
    }
    if (!failure.ok() || input.at_eof()) break;
    // Input drained. Write now if the last write was a linger ago, else wait
    // up to the rest of the linger for more: isolated records go out at once,
    // a trickle is grouped into at most one write per linger.
    if (p.HasPending()) {
      const int64_t wait = o.linger_ms - p.MillisSinceFlush();
      if (wait <= 0 || !input.WaitReadable(int(wait))) KS_RETURN_IF_ERROR(p.Flush());
    }
    if (o.sync == SyncMode::kBatch && p.HasUnsynced() && !p.HasPending() &&
        (p.MillisSinceSync() >= o.sync_interval_ms || !input.WaitReadable(0)))
      KS_RETURN_IF_ERROR(p.SyncAndAcknowledge());  // idle, or due: group commit
    if (o.sync == SyncMode::kNever && p.HasUnsynced()) KS_RETURN_IF_ERROR(p.SyncAndAcknowledge());
    auto more = input.Fill();
    if (!more.ok()) {
      failure = more.status();
      break;
    }
  }
  // Everything accepted before the end (or the error) is written and reported.
  KS_RETURN_IF_ERROR(p.Flush());
  KS_RETURN_IF_ERROR(p.SyncAndAcknowledge());
  return failure;
}

}  // namespace kstream
