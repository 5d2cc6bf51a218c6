#include "produce/producer.h"

#include <unistd.h>

#include <chrono>
#include <deque>

#include "core/stop_flag.h"
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
  int64_t MillisSinceFlush() const { return env_->NowMillis() - last_flush_ms_; }
  int sync_event_fd() const { return writer_.sync_event_fd(); }

  // Writes the pending batch (durable at once with --sync always).
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
      unacked_.push_back({put_results_[i], pending_[i].data_len});
    }
    unsubmitted_ += pending_.size();
    pending_.clear();
    arena_.clear();
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

  // Reports the oldest `count` written records.
  Status Acknowledge(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      const Unacked& u = unacked_[i];
      if (o_.print_results) {
        line_.clear();
        line_ += "{\"ShardId\":\"";
        line_ += ShardIdFor(u.result.shard_index);
        line_ += "\",\"SequenceNumber\":\"";
        AppendDecimal(line_, u.result.sequence);
        line_ += "\"}\n";
        results_.Append(line_);
      }
      stats_.bytes += u.data_bytes;
    }
    stats_.records += count;
    unacked_.erase(unacked_.begin(), unacked_.begin() + std::ptrdiff_t(count));
    if (o_.print_results) KS_RETURN_IF_ERROR(results_.Flush());
    if (o_.on_progress) o_.on_progress(stats_);
    return Status::Ok();
  }

  struct Unacked {
    PutResult result;
    uint32_t data_bytes;
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
  std::deque<Unacked> unacked_;   // written, not yet reported, in input order
  std::deque<SyncGroup> groups_;  // syncs in flight, oldest first
  size_t unsubmitted_ = 0;        // written records no sync covers yet
  bool in_flight_ = false;
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
                   RecordWriter& results, ProducerStats& stats, Env* env, const StopFlag* stop) {
  Producer p(writer, o, results, stats, env);
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
  return failure.ok() ? synced : failure;
}

}  // namespace kstream
