#include "deliver/deliverer.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/text.h"
#include "io/record_writer.h"

namespace kstream {

namespace {

constexpr char kStateDir[] = ".kstream-deliver";

std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

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
  KS_ASSIGN_OR_RETURN(auto compressor, Compressor::Create(options.compression, options.level));
  std::unique_ptr<Deliverer> d(new Deliverer(std::move(options), env, std::move(compressor)));
  // A probe file, so an unwritable target is reported now, not at the first flush.
  Status s = env->CreateDir(d->staging_dir_);
  if (s.ok()) {
    const std::string probe = JoinPath(d->staging_dir_, ".probe-" + std::to_string(getpid()));
    (void)env->RemoveFile(probe);
    auto f = env->OpenAppend(probe, /*create=*/true);
    s = f.status();
    if (s.ok()) s = (*f)->Append("probe");
    if (s.ok()) s = (*f)->Sync();
    (void)env->RemoveFile(probe);
  }
  if (!s.ok())
    return Status::IOError("cannot write to target directory '" + dir + "': " + s.message());
  return d;
}

Deliverer::Deliverer(DeliverOptions options, Env* env, std::unique_ptr<Compressor> compressor)
    : o_(std::move(options)), env_(env), compressor_(std::move(compressor)) {
  state_dir_ = JoinPath(JoinPath(o_.dir, kStateDir), o_.group);
  staging_dir_ = JoinPath(state_dir_, "staging");
}

std::string Deliverer::IntentPath(uint64_t shard) const {
  return JoinPath(state_dir_, ShardIdFor(shard) + ".intent");
}

Result<bool> Deliverer::Handle(uint64_t shard, const RecordBatch& records, const Context& ctx) {
  ShardState& st = shards_[shard];
  if (!st.recovered) KS_RETURN_IF_ERROR(Recover(shard, st));
  for (size_t i = 0; i < records.size(); ++i) {
    const RecordBatch::Record r = records[i];
    stats_.newest_arrival_ms = std::max(stats_.newest_arrival_ms, r.arrival_ms);
    if (st.skip_through && r.sequence <= *st.skip_through) continue;  // in a file already
    if (st.parts.empty()) st.since_ms = env_->NowMillis();
    Add(shard, st, r);
    // Files end between sequence numbers, never inside one (the user records
    // of a KPL aggregate share theirs): ranges and checkpoints stay exact.
    const bool boundary = i + 1 == records.size() || records[i + 1].sequence != r.sequence;
    if (st.buffered >= o_.buffer_bytes && boundary) KS_RETURN_IF_ERROR(FlushShard(shard, st, ctx));
  }
  return true;
}

void Deliverer::Add(uint64_t shard, ShardState& st, const RecordBatch::Record& r) {
  const bool routed = o_.prefix.Evaluate(r.arrival_ms, r.data, prefix_, &route_error_);
  if (!routed) {
    prefix_ = kErrorPrefix;
    AppendTimeFormat(prefix_, "yyyy/MM/dd/HH/", r.arrival_ms);
  }
  auto [it, fresh] = st.parts.try_emplace(prefix_);
  Part& p = it->second;
  if (fresh) {
    p.first = r.sequence;
    p.first_arrival_ms = r.arrival_ms;
    p.errors = !routed;
  }
  const size_t before = p.bytes.size();
  if (!routed) {
    AppendErrorDocument(p.bytes, shard, r, route_error_);
  } else if (o_.format == DeliverFormat::kJson) {
    AppendRecordEnvelope(p.bytes, shard, r);
    p.bytes += '\n';
  } else {
    p.bytes.append(r.data);
    p.bytes.append(o_.delimiter);
  }
  p.last = r.sequence;
  ++p.records;
  st.buffered += p.bytes.size() - before;
  st.last = r.sequence;
}

Status Deliverer::FlushShard(uint64_t shard, ShardState& st, const Context& ctx) {
  if (st.parts.empty()) return Status::Ok();
  LockGuard guard;
  KS_RETURN_IF_ERROR(guard.Acquire(st.lock.get()));
  FlushIntent intent{shard, st.last, {}};
  // Unique per flush: a crash before the intent leaves names no intent uses.
  const std::string tag = ShardIdFor(shard) + "-" + ToDecimal(st.last) + "-";
  const std::string_view ext = CompressionExtension(o_.compression);
  DeliverStats add;
  auto remove_staged = [&] {
    for (const auto& f : intent.files) (void)env_->RemoveFile(JoinPath(staging_dir_, f.staged));
  };
  for (const auto& [prefix, p] : st.parts) {
    FlushIntent::File f{
        tag + std::to_string(intent.files.size()) + ".part",
        prefix + DeliveredFileName(o_.stream, p.first_arrival_ms, shard, p.first, p.last, ext)};
    const std::string path = JoinPath(staging_dir_, f.staged);
    Status s = compressor_->Compress(p.bytes, compressed_);
    if (s.ok()) s = env_->RemoveFile(path);  // left by a crash
    std::unique_ptr<AppendFile> file;
    if (s.ok()) {
      auto opened = env_->OpenAppend(path, /*create=*/true);
      s = opened.status();
      if (s.ok()) file = std::move(*opened);
    }
    if (file) intent.files.push_back(f);
    if (s.ok()) s = file->Append(compressed_);
    if (s.ok()) s = file->Sync();
    if (!s.ok()) {
      remove_staged();
      return s.Prefixed("cannot deliver to '" + o_.dir + "'");
    }
    add.records += p.records;
    if (p.errors) add.error_records += p.records;
    add.bytes_in += p.bytes.size();
    add.bytes_out += compressed_.size();
    ++add.files;
  }
  // A worker that lost the shard makes nothing visible: its new owner
  // delivers these records again.
  auto held = ctx.still_holds ? ctx.still_holds(shard) : Result<bool>(true);
  if (!held.ok() || !*held) {
    remove_staged();
    st.parts.clear();
    st.buffered = 0;
    return held.status();
  }
  KS_RETURN_IF_ERROR(env_->WriteFileAtomic(IntentPath(shard), EncodeIntent(intent))
                         .Prefixed("cannot deliver to '" + o_.dir + "'"));
  KS_RETURN_IF_ERROR(Publish(intent).Prefixed("cannot deliver to '" + o_.dir + "'"));
  st.delivered = st.last;
  st.parts.clear();
  st.buffered = 0;
  stats_.records += add.records;
  stats_.error_records += add.error_records;
  stats_.bytes_in += add.bytes_in;
  stats_.bytes_out += add.bytes_out;
  stats_.files += add.files;
  return Status::Ok();
}

Status Deliverer::Publish(const FlushIntent& intent) {
  std::set<std::string> dirs;
  for (const auto& f : intent.files) {
    const std::string from = JoinPath(staging_dir_, f.staged);
    const std::string to = JoinPath(o_.dir, f.final);
    if (!env_->Exists(from)) continue;  // renamed already (before a crash, or by a former owner)
    const std::string dir = ParentDir(to);
    KS_RETURN_IF_ERROR(MakeDir(dir));
    Status s = env_->Rename(from, to);
    if (!s.ok() && !(s.code() == StatusCode::kNotFound && env_->Exists(to))) return s;
    dirs.insert(dir);
  }
  for (const auto& dir : dirs) KS_RETURN_IF_ERROR(env_->SyncDir(dir));
  return Status::Ok();
}

Status Deliverer::MakeDir(const std::string& dir) {
  if (known_dirs_.count(dir)) return Status::Ok();
  if (!env_->Exists(o_.dir))
    return Status::NotFound("target directory '" + o_.dir + "' was removed");
  // The directories about to be created, outermost first: each new entry
  // must be made durable in its parent.
  std::vector<std::string> created;
  for (std::string d = dir; d.size() > o_.dir.size() && !env_->Exists(d); d = ParentDir(d))
    created.insert(created.begin(), d);
  KS_RETURN_IF_ERROR(env_->CreateDir(dir));
  for (const auto& d : created) KS_RETURN_IF_ERROR(env_->SyncDir(ParentDir(d)));
  known_dirs_.insert(dir);
  return Status::Ok();
}

Status Deliverer::Recover(uint64_t shard, ShardState& st) {
  KS_ASSIGN_OR_RETURN(st.lock,
                      env_->OpenLockFile(JoinPath(state_dir_, ShardIdFor(shard) + ".lock")));
  LockGuard guard;
  KS_RETURN_IF_ERROR(guard.Acquire(st.lock.get()));
  const std::string path = IntentPath(shard);
  auto text = env_->ReadWholeFile(path);
  if (text.ok()) {
    KS_ASSIGN_OR_RETURN(FlushIntent intent, DecodeIntent(*text, path));
    KS_RETURN_IF_ERROR(Publish(intent).Prefixed("cannot deliver to '" + o_.dir + "'"));
    st.skip_through = st.delivered = intent.last;
  } else if (text.status().code() != StatusCode::kNotFound) {
    return text.status();
  }
  // Every staged file an intent names is published now; the rest of this
  // shard's are from flushes that crashed before their intent.
  KS_ASSIGN_OR_RETURN(auto names, env_->ListDir(staging_dir_));
  const std::string mine = ShardIdFor(shard) + "-";
  for (const auto& name : names)
    if (name.starts_with(mine)) KS_RETURN_IF_ERROR(env_->RemoveFile(JoinPath(staging_dir_, name)));
  st.recovered = true;
  return Status::Ok();
}

std::optional<uint128> Deliverer::Delivered(uint64_t shard) const {
  auto it = shards_.find(shard);
  return it == shards_.end() ? std::nullopt : it->second.delivered;
}

Status Deliverer::DeliverDue(const Context& ctx) {
  const int64_t now = env_->NowMillis();
  for (auto& [shard, st] : shards_)
    if (!st.parts.empty() && now - st.since_ms >= o_.buffer_interval_ms)
      KS_RETURN_IF_ERROR(FlushShard(shard, st, ctx));
  return Status::Ok();
}

Status Deliverer::DeliverShard(uint64_t shard, const Context& ctx) {
  auto it = shards_.find(shard);
  if (it == shards_.end()) return Status::Ok();
  return FlushShard(shard, it->second, ctx);
}

int64_t Deliverer::next_due_ms() const {
  int64_t due = std::numeric_limits<int64_t>::max();
  for (const auto& [shard, st] : shards_)
    if (!st.parts.empty()) due = std::min(due, st.since_ms + o_.buffer_interval_ms);
  return due;
}

}  // namespace kstream
