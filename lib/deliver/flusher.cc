#include "deliver/flusher.h"

#include <pthread.h>

#include "core/text.h"

namespace kstream {

namespace {

std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

Result<std::unique_ptr<Flusher>> Flusher::Create(Options options, Env* env) {
  // Each thread makes its own; this checks the level once.
  KS_RETURN_IF_ERROR(Compressor::Create(options.compression, options.level).status());
  std::unique_ptr<Flusher> f(new Flusher(std::move(options), env));
  for (int i = 0; i < std::max(1, f->o_.threads); ++i)
    f->threads_.emplace_back([p = f.get()] { p->Loop(); });
  return f;
}

Flusher::Flusher(Options options, Env* env)
    : o_(std::move(options)), env_(env), staging_dir_(JoinPath(o_.state_dir, "staging")) {}

Flusher::~Flusher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
}

std::string Flusher::IntentPath(uint64_t shard) const {
  return JoinPath(o_.state_dir, ShardIdFor(shard) + ".intent");
}

Status Flusher::Submit(FlushJob job) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return !failure_.ok() || pending_locked() < o_.max_pending; });
  if (!failure_.ok()) return failure_;
  queue_.push_back(std::move(job));
  lock.unlock();
  changed_.notify_all();
  return Status::Ok();
}

void Flusher::Wait(uint64_t shard) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] {
    if (running_.count(shard)) return false;
    for (const auto& j : queue_)
      if (j.shard == shard) return false;
    return true;
  });
}

void Flusher::WaitAll() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return pending_locked() == 0; });
}

bool Flusher::idle() const {
  std::lock_guard lock(mu_);
  return pending_locked() == 0;
}

std::vector<FlushResult> Flusher::TakeResults() {
  std::lock_guard lock(mu_);
  return std::exchange(results_, {});
}

Status Flusher::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

std::string Flusher::TakeBuffer() {
  std::lock_guard lock(mu_);
  if (spare_buffers_.empty()) return {};
  std::string b = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  return b;
}

DeliverStats Flusher::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Flusher::Loop() {
  pthread_setname_np(pthread_self(), "ks-flush");  // in top and perf
  auto compressor = Compressor::Create(o_.compression, o_.level);
  std::string compressed;  // kept: its pages stay mapped from job to job
  std::unique_lock lock(mu_);
  for (;;) {
    // The first queued job whose shard is not being flushed already.
    auto next = queue_.end();
    changed_.wait(lock, [&] {
      if (stopping_) return true;
      for (next = queue_.begin(); next != queue_.end(); ++next)
        if (!running_.count(next->shard)) return true;
      return false;
    });
    if (stopping_) return;
    FlushJob job = std::move(*next);
    queue_.erase(next);
    running_.insert(job.shard);
    lock.unlock();

    bool published = false;
    DeliverStats add;
    Status s =
        compressor.ok() ? Run(job, **compressor, compressed, &published, add) : compressor.status();

    lock.lock();
    running_.erase(running_.find(job.shard));
    if (!s.ok()) {
      if (failure_.ok()) failure_ = s;
      queue_.clear();  // nothing after a failed flush may become visible
    } else {
      results_.push_back({job.shard, job.last, published});
      stats_.records += add.records;
      stats_.error_records += add.error_records;
      stats_.bytes_in += add.bytes_in;
      stats_.bytes_out += add.bytes_out;
      stats_.files += add.files;
    }
    for (FlushPart& p : job.parts) {
      if (spare_buffers_.size() >= o_.max_pending + 4) break;
      p.bytes.clear();
      spare_buffers_.push_back(std::move(p.bytes));
    }
    changed_.notify_all();
  }
}

Status Flusher::Run(const FlushJob& job, Compressor& compressor, std::string& compressed,
                    bool* published, DeliverStats& add) {
  LockGuard guard;
  KS_RETURN_IF_ERROR(guard.Acquire(job.lock));
  FlushIntent intent{job.shard, job.last, {}};
  // Unique per flush: a crash before the intent leaves names no intent uses.
  const std::string tag = ShardIdFor(job.shard) + "-" + ToDecimal(job.last) + "-";
  auto remove_staged = [&] {
    for (const auto& f : intent.files) (void)env_->RemoveFile(JoinPath(staging_dir_, f.staged));
  };
  const std::string context = "cannot deliver to '" + o_.dir + "'";
  for (const FlushPart& p : job.parts) {
    FlushIntent::File f{tag + std::to_string(intent.files.size()) + ".part", p.final};
    const std::string path = JoinPath(staging_dir_, f.staged);
    Status s = compressor.Compress(p.bytes, compressed);
    if (s.ok()) s = env_->RemoveFile(path);  // left by a crash
    std::unique_ptr<AppendFile> file;
    if (s.ok()) {
      auto opened = env_->OpenAppend(path, /*create=*/true);
      s = opened.status();
      if (s.ok()) file = std::move(*opened);
    }
    if (file) intent.files.push_back(f);
    if (s.ok()) s = file->Append(compressed);
    if (s.ok()) s = file->Sync();
    if (!s.ok()) {
      remove_staged();
      return s.Prefixed(context);
    }
    add.records += p.records;
    if (p.errors) add.error_records += p.records;
    add.bytes_in += p.bytes.size();
    add.bytes_out += compressed.size();
    ++add.files;
  }
  // The staged names must be durable before an intent names them.
  Status s = env_->SyncDir(staging_dir_);
  Result<bool> ours = s.ok() && o_.owns ? o_.owns(job.shard) : Result<bool>(s.ok());
  if (!s.ok() || !ours.ok() || !*ours) {
    remove_staged();
    if (!s.ok()) return s.Prefixed(context);
    return ours.status();  // not ours: its next owner delivers these records
  }
  KS_RETURN_IF_ERROR(
      env_->WriteFileAtomic(IntentPath(job.shard), EncodeIntent(intent)).Prefixed(context));
  KS_RETURN_IF_ERROR(Publish(intent).Prefixed(context));
  *published = true;
  return Status::Ok();
}

Status Flusher::Publish(const FlushIntent& intent) {
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

Status Flusher::MakeDir(const std::string& dir) {
  std::lock_guard lock(dirs_mu_);
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

}  // namespace kstream
