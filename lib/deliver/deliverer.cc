#include "deliver/deliverer.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/text.h"
#include "io/record_writer.h"

namespace kstream {

namespace {

constexpr char kStateDir[] = ".kstream-deliver";

// Firehose-style error document: why the record could not be routed, and the
// record itself.
void AppendErrorDocument(std::string& out, uint64_t shard, const RecordBatch::Record& r,
                         const PrefixTemplate::RouteError& e) {
  out += "{\"errorCode\":";
  AppendJsonString(out, e.code);
  out += ",\"errorMessage\":";
  AppendJsonString(out, e.message);
  out += ",\"ShardId\":\"" + ShardIdFor(shard) + "\",\"SequenceNumber\":\"" +
         ToDecimal(r.sequence) + "\",\"PartitionKey\":";
  AppendJsonString(out, r.partition_key);
  out += ",\"ApproximateArrivalTimestamp\":";
  AppendEpochSeconds(out, r.arrival_ms);
  out += ",\"rawData\":\"";
  AppendBase64(out, r.data);
  out += "\"}\n";
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::string DefaultDeliverGroup(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::weakly_canonical(std::filesystem::absolute(dir), ec);
  if (ec) abs = std::filesystem::absolute(dir).lexically_normal();
  std::string path = abs.string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string base;
  for (char c : std::filesystem::path(path).filename().string())
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-') base += c;
  if (base.size() > 64) base.resize(64);
  char hash[17];
  std::snprintf(hash, sizeof(hash), "%08llx",
                static_cast<unsigned long long>(Fnv1a(path) & 0xffffffffull));
  return "deliver-" + (base.empty() || base == "." || base == ".." ? "" : base + "-") + hash;
}

Result<std::unique_ptr<Deliverer>> Deliverer::Open(DeliverOptions options, Env* env) {
  const std::string dir = options.dir;
  if (!env->Exists(dir))
    return Status::NotFound("target directory '" + dir +
                            "' does not exist (create it with: mkdir -p " + dir + ")");
  if (auto listed = env->ListDir(dir); !listed.ok())
    return Status::IOError("target '" + dir +
                           "' is not a usable directory: " + listed.status().message());
  Flusher::Options f;
  f.dir = dir;
  f.state_dir = JoinPath(JoinPath(dir, kStateDir), options.group);
  f.compression = options.compression;
  f.level = options.level;
  f.threads = options.threads;
  f.max_pending = 2 * size_t(options.threads);
  f.owns = options.owns;
  KS_ASSIGN_OR_RETURN(auto flusher, Flusher::Create(std::move(f), env));
  // A probe file, so an unwritable target is reported now, not at the first flush.
  const std::string staging = flusher->staging_dir();
  Status s = env->CreateDir(staging);
  if (s.ok()) {
    const std::string probe = JoinPath(staging, ".probe-" + std::to_string(getpid()));
    (void)env->RemoveFile(probe);
    auto file = env->OpenAppend(probe, /*create=*/true);
    s = file.status();
    if (s.ok()) s = (*file)->Append("probe");
    if (s.ok()) s = (*file)->Sync();
    (void)env->RemoveFile(probe);
  }
  if (!s.ok())
    return Status::IOError("cannot write to target directory '" + dir + "': " + s.message());
  return std::unique_ptr<Deliverer>(new Deliverer(std::move(options), env, std::move(flusher)));
}

Deliverer::Deliverer(DeliverOptions options, Env* env, std::unique_ptr<Flusher> flusher)
    : o_(std::move(options)), env_(env), flusher_(std::move(flusher)) {
  state_dir_ = JoinPath(JoinPath(o_.dir, kStateDir), o_.group);
}

Result<bool> Deliverer::Handle(uint64_t shard, const RecordBatch& records, const Context&) {
  KS_RETURN_IF_ERROR(flusher_->failure());
  ShardState& st = shards_[shard];
  if (!st.recovered) KS_RETURN_IF_ERROR(Recover(shard, st));
  // Taken by another worker before this one noticed: leave its records to
  // the new owner (this worker drops the shard soon).
  if (!st.recovered) return true;
  for (size_t i = 0; i < records.size(); ++i) {
    const RecordBatch::Record r = records[i];
    newest_arrival_ms_ = std::max(newest_arrival_ms_, r.arrival_ms);
    if (st.skip_through && r.sequence <= *st.skip_through) continue;  // in a file already
    if (st.parts.empty()) st.since_ms = env_->NowMillis();
    Add(shard, st, r);
    // Files end between sequence numbers, never inside one (the user records
    // of a KPL aggregate share theirs): ranges and checkpoints stay exact.
    // (The next record is looked at only when the buffer is full.)
    if (st.buffered >= o_.buffer_bytes &&
        (i + 1 == records.size() || records[i + 1].sequence != r.sequence))
      KS_RETURN_IF_ERROR(Submit(shard, st));
  }
  return true;
}

void Deliverer::Add(uint64_t shard, ShardState& st, const RecordBatch::Record& r) {
  const int64_t key = o_.prefix.TimeKey(r.arrival_ms);
  if (key >= 0 && key == st.last_key && st.last_part) {
    st.buffered += AppendRecord(shard, *st.last_part, r);  // the common case: same prefix
    st.last = r.sequence;
    return;
  }
  bool routed = o_.prefix.Evaluate(r.arrival_ms, r.data, prefix_, &route_error_);
  if (!routed) {
    prefix_ = kErrorPrefix;
    AppendTimeFormat(prefix_, "yyyy/MM/dd/HH/", r.arrival_ms);
  } else if (!st.parts.count(prefix_) && !Activate(prefix_)) {
    route_error_.code = "ActivePartitionExceeded";
    route_error_.message = std::to_string(o_.max_partitions) +
                           " partitions are active already (--max-partitions); prefix '" + prefix_ +
                           "' would be one more";
    routed = false;
    prefix_ = kPartitionsExceededPrefix;
    AppendTimeFormat(prefix_, "yyyy/MM/dd/HH/", r.arrival_ms);
  }
  auto [it, fresh] = st.parts.try_emplace(prefix_);
  Part& p = it->second;
  if (fresh) {
    p.bytes = flusher_->TakeBuffer();
    p.first = r.sequence;
    p.first_arrival_ms = r.arrival_ms;
    p.errors = !routed;
  }
  if (!routed) {
    const size_t before = p.bytes.size();
    AppendErrorDocument(p.bytes, shard, r, route_error_);
    p.last = r.sequence;
    ++p.records;
    st.buffered += p.bytes.size() - before;
  } else {
    st.buffered += AppendRecord(shard, p, r);
  }
  st.last_part = routed ? &p : nullptr;
  st.last_key = key;
  st.last = r.sequence;
}

size_t Deliverer::AppendRecord(uint64_t shard, Part& p, const RecordBatch::Record& r) {
  const size_t before = p.bytes.size();
  // A part that got this far likely fills its buffer: room for all of it at
  // once spares the copies and fresh pages of doubling.
  constexpr size_t kLikelyFull = 1 << 20;
  if (before >= kLikelyFull && p.bytes.capacity() < o_.buffer_bytes + kLikelyFull)
    p.bytes.reserve(o_.buffer_bytes + kLikelyFull);
  if (o_.format == DeliverFormat::kJson) {
    AppendRecordEnvelope(p.bytes, shard, r);
    p.bytes += '\n';
  } else {
    p.bytes.append(r.data);
    p.bytes.append(o_.delimiter);
  }
  p.last = r.sequence;
  ++p.records;
  return p.bytes.size() - before;
}

Status Deliverer::Submit(uint64_t shard, ShardState& st) {
  if (st.parts.empty()) return Status::Ok();
  FlushJob job{shard, st.last, {}, st.lock.get()};
  const std::string_view ext = CompressionExtension(o_.compression);
  for (auto& [prefix, p] : st.parts)
    job.parts.push_back(
        {prefix + DeliveredFileName(o_.stream, p.first_arrival_ms, shard, p.first, p.last, ext),
         std::move(p.bytes), p.records, p.errors});
  Deactivate(st.parts);
  st.parts.clear();
  st.buffered = 0;
  st.last_part = nullptr;
  st.last_key = -1;
  return flusher_->Submit(std::move(job));
}

bool Deliverer::Activate(const std::string& prefix) {
  auto [it, fresh] = active_.try_emplace(prefix, 0);
  if (fresh && active_.size() > o_.max_partitions) {
    active_.erase(it);
    return false;
  }
  ++it->second;
  return true;
}

void Deliverer::Deactivate(const std::map<std::string, Part>& parts) {
  for (const auto& [prefix, p] : parts) {
    if (p.errors) continue;  // error prefixes are not partitions
    auto it = active_.find(prefix);
    if (it != active_.end() && --it->second == 0) active_.erase(it);
  }
}

void Deliverer::Reap() {
  for (const FlushResult& r : flusher_->TakeResults()) {
    auto it = shards_.find(r.shard);
    if (it != shards_.end() && r.published) it->second.delivered = r.last;
  }
}

Status Deliverer::Recover(uint64_t shard, ShardState& st) {
  KS_ASSIGN_OR_RETURN(st.lock,
                      env_->OpenLockFile(JoinPath(state_dir_, ShardIdFor(shard) + ".lock")));
  KS_ASSIGN_OR_RETURN(Flusher::Recovered r, flusher_->Recover(shard, st.lock.get()));
  if (r.covered) st.skip_through = st.delivered = *r.covered;
  st.recovered = r.ours;
  return Status::Ok();
}

std::optional<SequenceNumber> Deliverer::Delivered(uint64_t shard) const {
  auto it = shards_.find(shard);
  return it == shards_.end() ? std::nullopt : it->second.delivered;
}

Status Deliverer::DeliverDue(const Context&) {
  const int64_t now = env_->NowMillis();
  for (auto& [shard, st] : shards_)
    if (!st.parts.empty() && now - st.since_ms >= o_.buffer_interval_ms)
      KS_RETURN_IF_ERROR(Submit(shard, st));
  Reap();
  return flusher_->failure();
}

Status Deliverer::DeliverShard(uint64_t shard, const Context&) {
  auto it = shards_.find(shard);
  if (it == shards_.end()) return Status::Ok();
  Status submitted = Submit(shard, it->second);
  flusher_->Wait(shard);
  Reap();
  return submitted.ok() ? flusher_->failure() : submitted;
}

Status Deliverer::StartDelivery(uint64_t shard) {
  auto it = shards_.find(shard);
  return it == shards_.end() ? Status::Ok() : Submit(shard, it->second);
}

void Deliverer::Release(uint64_t shard) {
  // A job of the shard still running might otherwise publish after its next
  // owner read the intent.
  flusher_->Wait(shard);
  Reap();
  if (auto it = shards_.find(shard); it != shards_.end()) Deactivate(it->second.parts);
  shards_.erase(shard);
}

int64_t Deliverer::next_due_ms() const {
  // While files are being written, come back soon to report them delivered.
  int64_t due = flusher_->idle() ? std::numeric_limits<int64_t>::max() : env_->NowMillis() + 20;
  for (const auto& [shard, st] : shards_)
    if (!st.parts.empty()) due = std::min(due, st.since_ms + o_.buffer_interval_ms);
  return due;
}

DeliverStats Deliverer::stats() const {
  DeliverStats s = flusher_->stats();
  s.newest_arrival_ms = newest_arrival_ms_;
  return s;
}

}  // namespace kstream
