#include "agent/flow.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "core/hash_key.h"

namespace kstream::agent {

namespace {
constexpr int64_t kSyncIntervalMs = 200;  // under load, a sync starts at least this often
}  // namespace

Flow::Flow(const FlowConfig& config, ConverterChain chain, std::unique_ptr<StreamWriter> writer,
           const TailerOptions& tailer_options, Env* env)
    : config_(config),
      chain_(std::move(chain)),
      writer_(std::move(writer)),
      tailer_(config, tailer_options, env),
      env_(env) {
  rng_ = uint64_t(env->NowMillis()) * 0x9e3779b97f4a7c15ull ^ uint64_t(::getpid()) << 32 ^
         uint64_t(reinterpret_cast<uintptr_t>(this));
  stats_.flow = config.Id();
  stats_.stream = config.stream;
  last_sync_ms_ = env->NowMillis();
}

Status Flow::Record(uint64_t file_id, std::string_view data, uint64_t end, bool truncated) {
  std::optional<std::string_view> out = data;
  if (!chain_.empty()) {
    bool unmatched = false;
    out = chain_.Run(data, &unmatched);
    if (unmatched) ++stats_.parse_failures;
  }
  if (!HasBatch()) batch_started_ms_ = env_->NowMillis();
  if (out) Append(*out, truncated);
  return Mark(file_id, end);
}

Status Flow::Mark(uint64_t file_id, uint64_t end) {
  if (!HasBatch()) batch_started_ms_ = env_->NowMillis();
  batch_marks_.Add(file_id, end);
  if (entries_.size() >= config_.max_buffer_records || arena_.size() >= config_.max_buffer_bytes)
    return Flush();
  return Status::Ok();
}

void Flow::Append(std::string_view data, bool truncated) {
  const size_t key_at = arena_.size();
  AppendKey(data);
  const size_t key_len = arena_.size() - key_at;
  // Kinesis counts the key against the 1 MiB limit. A record over it is
  // cut and ends with truncatedRecordTerminator, as the Kinesis Agent does.
  const size_t limit = kMaxRecordBytes - key_len;
  if (truncated || data.size() > limit) {
    const std::string& term = config_.truncated_record_terminator;
    const size_t keep = std::min(data.size(), limit);
    data = data.substr(0, keep > term.size() ? keep - term.size() : 0);
    arena_.append(data);
    arena_.append(term);
    ++stats_.truncated;
  } else {
    arena_.append(data);
  }
  const size_t data_len = arena_.size() - key_at - key_len;
  entries_.push_back({key_at, uint32_t(key_len), uint32_t(data_len)});
  batch_data_bytes_ += data_len;
}

void Flow::AppendKey(std::string_view data) {
  char buf[40];
  if (config_.partition_key == PartitionKeyOption::kDeterministic) {
    uint128 h = HashPartitionKey(data);
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 31; i >= 0; --i, h >>= 4) buf[i] = kHex[unsigned(h & 15)];
    arena_.append(buf, 32);
    return;
  }
  const double r = double(NextRandom() >> 11) * 0x1.0p-53 * 1000000.0;
  auto res = std::to_chars(buf, buf + sizeof(buf), r);
  arena_.append(buf, res.ptr);
}

Status Flow::Flush() {
  if (!entries_.empty()) {
    views_.clear();
    for (const auto& e : entries_)
      views_.push_back({std::string_view(arena_.data() + e.offset, e.key_len),
                        std::string_view(arena_.data() + e.offset + e.key_len, e.data_len),
                        std::nullopt});
    KS_RETURN_IF_ERROR(
        writer_->Put(views_, results_).Prefixed("put into '" + config_.stream + "'"));
    unsynced_records_ += entries_.size();
    unsynced_bytes_ += batch_data_bytes_;
    unacked_records_ += entries_.size();
  }
  unsynced_marks_.Merge(batch_marks_);
  entries_.clear();
  arena_.clear();
  batch_marks_.clear();
  batch_data_bytes_ = 0;
  return Status::Ok();
}

Status Flow::MaybeBeginSync(bool idle, int64_t now) {
  if (unsynced_marks_.empty() || !groups_.empty()) return Status::Ok();
  const bool due =
      idle || now - last_sync_ms_ >= kSyncIntervalMs || unacked_records_ * 2 >= MaxUnacked();
  if (!due) return Status::Ok();
  KS_ASSIGN_OR_RETURN(uint64_t ticket, writer_->BeginSync());
  groups_.push_back({ticket, std::move(unsynced_marks_), unsynced_records_, unsynced_bytes_});
  unsynced_marks_.clear();
  unsynced_records_ = unsynced_bytes_ = 0;
  last_sync_ms_ = now;
  return Status::Ok();
}

Result<bool> Flow::Acknowledge() {
  if (groups_.empty()) return false;
  KS_ASSIGN_OR_RETURN(uint64_t synced, writer_->SyncedTicket());
  bool any = false;
  while (!groups_.empty() && groups_.front().ticket <= synced) {
    AckGroup(groups_.front());
    groups_.pop_front();
    any = true;
  }
  return any;
}

Status Flow::SyncAll() {
  KS_RETURN_IF_ERROR(Flush());
  KS_RETURN_IF_ERROR(writer_->Sync());
  for (auto& g : groups_) AckGroup(g);
  groups_.clear();
  SyncGroup rest{0, std::move(unsynced_marks_), unsynced_records_, unsynced_bytes_};
  AckGroup(rest);
  unsynced_marks_.clear();
  unsynced_records_ = unsynced_bytes_ = 0;
  return Status::Ok();
}

void Flow::AckGroup(const SyncGroup& g) {
  for (auto [file, offset] : g.marks.items()) tailer_.Acknowledge(file, offset);
  stats_.records_sent += g.records;
  stats_.bytes_sent += g.bytes;
  unacked_records_ -= std::min(unacked_records_, g.records);
}

}  // namespace kstream::agent
