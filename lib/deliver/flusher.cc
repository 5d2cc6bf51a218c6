#include "deliver/flusher.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "core/text.h"

namespace kstream {

namespace {

std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

constexpr std::string_view kIntentSuffix = ".intent";

}  // namespace

std::string IntentName(uint64_t shard, const SequenceNumber& last) {
  return ShardIdFor(shard) + "-" + ToDecimal(last) + std::string(kIntentSuffix);
}

Result<std::unique_ptr<Flusher>> Flusher::Create(Options options, Env* env) {
  // Each thread makes its own; this checks the level once.
  KS_RETURN_IF_ERROR(Compressor::Create(options.compression, options.level).status());
  std::unique_ptr<Flusher> f(new Flusher(std::move(options), env));
  for (int i = 0; i < std::max(1, f->o_.threads); ++i)
    f->threads_.emplace_back([p = f.get()] { p->Loop(); });
  return f;
}

Flusher::Flusher(Options options, Env* env)
    : o_(std::move(options)), env_(env), staging_dir_(JoinPath(o_.state_dir, "staging")) {
  // Staged names must differ between workers: a worker that lost a shard
  // but has not noticed yet may stage the very same range as its new owner.
  std::random_device random;
  char token[17];
  std::snprintf(token, sizeof(token), "%08x%08x", random(), random());
  token_ = token;
}

Flusher::~Flusher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
}

size_t Flusher::pending_locked() const {
  size_t n = 0;
  for (const auto& [shard, q] : shards_) n += q.jobs.size();
  return n;
}

Status Flusher::Submit(FlushJob job) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return !failure_.ok() || pending_locked() < o_.max_pending; });
  if (!failure_.ok()) return failure_;
  auto j = std::make_shared<Job>();
  j->job = std::move(job);
  shards_[j->job.shard].jobs.push_back(j);
  to_stage_.push_back(std::move(j));
  lock.unlock();
  changed_.notify_all();
  return Status::Ok();
}

void Flusher::Wait(uint64_t shard) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return !shards_.count(shard); });
}

bool Flusher::idle() const {
  std::lock_guard lock(mu_);
  return shards_.empty();
}

std::vector<FlushResult> Flusher::TakeResults() {
  std::lock_guard lock(mu_);
  return std::exchange(results_, {});
}

Status Flusher::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

DeliverStats Flusher::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::string Flusher::TakeBuffer() {
  std::lock_guard lock(mu_);
  if (spare_buffers_.empty()) return {};
  std::string b = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  return b;
}

bool Flusher::NextStep(std::shared_ptr<Job>* stage, uint64_t* commit_shard,
                       std::vector<std::shared_ptr<Job>>* commit) {
  if (!failure_.ok()) return false;
  // Committing first: it makes files visible and frees memory.
  for (auto& [shard, q] : shards_) {
    if (q.committing) continue;
    for (const auto& j : q.jobs) {
      if (j->state != Job::State::kStaged) break;
      commit->push_back(j);
    }
    if (commit->empty()) continue;
    for (const auto& j : *commit) j->state = Job::State::kCommitting;
    q.committing = true;
    *commit_shard = shard;
    return true;
  }
  if (to_stage_.empty()) return false;
  *stage = std::move(to_stage_.front());
  to_stage_.pop_front();
  (*stage)->state = Job::State::kStaging;
  return true;
}

void Flusher::Loop() {
  pthread_setname_np(pthread_self(), "ks-flush");  // in top and perf
  auto compressor = Compressor::Create(o_.compression, o_.level);
  std::unique_lock lock(mu_);
  for (;;) {
    std::shared_ptr<Job> stage;
    uint64_t shard = 0;
    std::vector<std::shared_ptr<Job>> commit;
    changed_.wait(lock, [&] { return stopping_ || NextStep(&stage, &shard, &commit); });
    if (stopping_) return;
    ++busy_;
    lock.unlock();
    bool published = false;
    Status s = stage ? (compressor.ok() ? Stage(*stage, **compressor) : compressor.status())
                     : Commit(shard, commit, &published);
    lock.lock();
    --busy_;
    if (stage) {
      ShardQueue& q = shards_[stage->job.shard];
      // Staged or dropped, its contents are done with: the next parts
      // fill them again while this job waits to commit.
      RecycleBuffers(*stage);
      if (s.ok() && failure_.ok()) {
        stage->state = Job::State::kStaged;
      } else {
        RemoveStaged(*stage);  // stopped: nothing of it may become visible
        q.jobs.erase(std::find(q.jobs.begin(), q.jobs.end(), stage));
        if (q.jobs.empty() && !q.committing) shards_.erase(stage->job.shard);
        if (!s.ok()) FailLocked(s);
      }
    } else {
      ShardQueue& q = shards_[shard];
      q.committing = false;
      for (const auto& j : commit) {
        q.jobs.erase(std::find(q.jobs.begin(), q.jobs.end(), j));
        if (s.ok()) {
          results_.push_back({shard, j->job.last, published});
          if (published) {
            stats_.records += j->add.records;
            stats_.error_records += j->add.error_records;
            stats_.bytes_in += j->add.bytes_in;
            stats_.bytes_out += j->add.bytes_out;
            stats_.files += j->add.files;
          }
        }
      }
      if (q.jobs.empty()) shards_.erase(shard);
      if (!s.ok()) FailLocked(s);
    }
    changed_.notify_all();
  }
}

void Flusher::FailLocked(const Status& s) {
  if (failure_.ok()) failure_ = s;
  to_stage_.clear();
  for (auto it = shards_.begin(); it != shards_.end();) {
    auto& jobs = it->second.jobs;
    // Staging and committing jobs are settled by the threads running them.
    std::erase_if(jobs, [&](const std::shared_ptr<Job>& j) {
      if (j->state == Job::State::kStaged) RemoveStaged(*j);
      return j->state == Job::State::kQueued || j->state == Job::State::kStaged;
    });
    if (jobs.empty() && !it->second.committing)
      it = shards_.erase(it);
    else
      ++it;
  }
}

void Flusher::RemoveStaged(const Job& job) {
  for (const auto& f : job.staged) (void)env_->RemoveFile(JoinPath(staging_dir_, f.staged));
}

void Flusher::RecycleBuffers(Job& j) {
  for (FlushPart& p : j.job.parts) {
    if (spare_buffers_.size() >= o_.max_pending + 4) break;
    if (p.bytes.capacity() == 0) continue;
    p.bytes.clear();
    spare_buffers_.push_back(std::move(p.bytes));
  }
  for (FlushPart& p : j.job.parts) std::string().swap(p.bytes);  // the rest are freed now
}

Status Flusher::Stage(Job& j, Compressor& compressor) {
  // Unique per flush and worker: a crash before the intent leaves names no
  // intent uses, and no other worker stages under them.
  const std::string tag =
      ShardIdFor(j.job.shard) + "-" + ToDecimal(j.job.last) + "-" + token_ + "-";
  for (const FlushPart& p : j.job.parts) {
    FlushIntent::File f{tag + std::to_string(j.staged.size()) + ".part", p.final};
    const std::string path = JoinPath(staging_dir_, f.staged);
    Status s = env_->RemoveFile(path);  // left by a crash
    std::unique_ptr<AppendFile> file;
    if (s.ok()) {
      auto opened = env_->OpenAppend(path, /*create=*/true);
      s = opened.status();
      if (s.ok()) file = std::move(*opened);
    }
    if (file) j.staged.push_back(f);
    uint64_t written = 0;
    if (s.ok())
      s = compressor.Compress(p.bytes, [&](std::string_view piece) {
        written += piece.size();
        return piece.empty() ? Status::Ok() : file->Append(piece);
      });
    if (s.ok()) s = file->Sync();
    if (!s.ok()) return s.Prefixed("cannot deliver to '" + o_.dir + "'");
    j.add.records += p.records;
    if (p.errors) j.add.error_records += p.records;
    j.add.bytes_in += p.bytes.size();
    j.add.bytes_out += written;
    ++j.add.files;
  }
  return Status::Ok();
}

Status Flusher::Commit(uint64_t shard, const std::vector<std::shared_ptr<Job>>& jobs,
                       bool* published) {
  LockGuard guard;
  KS_RETURN_IF_ERROR(guard.Acquire(jobs.front()->job.lock));
  auto remove_all = [&] {
    for (const auto& j : jobs) RemoveStaged(*j);
  };
  Result<bool> ours = o_.owns ? o_.owns(shard) : Result<bool>(true);
  if (!ours.ok() || !*ours) {
    remove_all();
    return ours.status();  // not ours: its next owner delivers these records
  }
  // Only the shard's owner removes staged files (Recover), so a missing one
  // is damage from outside: stop rather than name it in an intent.
  for (const auto& j : jobs)
    for (const auto& f : j->staged)
      if (!env_->Exists(JoinPath(staging_dir_, f.staged))) {
        remove_all();
        return Status::IOError("cannot deliver to '" + o_.dir + "': staged file " +
                               JoinPath(staging_dir_, f.staged) + " vanished");
      }
  FlushIntent intent{shard, jobs.back()->job.last, {}};
  for (const auto& j : jobs)
    intent.files.insert(intent.files.end(), j->staged.begin(), j->staged.end());
  const std::string path = JoinPath(staging_dir_, IntentName(shard, intent.last));
  const std::string context = "cannot deliver to '" + o_.dir + "'";
  // Steps 2 and 3: the intent, then one fsync of the directory makes it
  // and every staged file durable.
  Status s = env_->RemoveFile(path);
  if (s.ok()) {
    auto file = env_->OpenAppend(path, /*create=*/true);
    s = file.status();
    if (s.ok()) s = (*file)->Append(EncodeIntent(intent));
    if (s.ok()) s = (*file)->Sync();
  }
  if (s.ok()) s = env_->SyncDir(staging_dir_);
  if (!s.ok()) {
    (void)env_->RemoveFile(path);
    remove_all();
    return s.Prefixed(context);
  }
  KS_RETURN_IF_ERROR(Publish(intent).Prefixed(context));
  std::optional<SequenceNumber> previous;
  {
    std::lock_guard lock(mu_);
    if (auto it = last_intent_.find(shard); it != last_intent_.end()) previous = it->second;
    last_intent_[shard] = intent.last;
  }
  if (previous) (void)env_->RemoveFile(JoinPath(staging_dir_, IntentName(shard, *previous)));
  *published = true;
  return Status::Ok();
}

Result<Flusher::Recovered> Flusher::Recover(uint64_t shard, LockFile* lock) {
  LockGuard guard;
  KS_RETURN_IF_ERROR(guard.Acquire(lock));
  // A worker that lost the shard without noticing yet must not touch its
  // files: the staged files of the new owner's next commit are among them.
  Result<bool> ours = o_.owns ? o_.owns(shard) : Result<bool>(true);
  if (!ours.ok()) return ours.status();
  if (!*ours) return Recovered{false, std::nullopt};
  KS_ASSIGN_OR_RETURN(auto names, env_->ListDir(staging_dir_));
  const std::string mine = ShardIdFor(shard) + "-";
  std::vector<std::pair<SequenceNumber, std::string>> intents;
  for (const auto& name : names) {
    if (!name.starts_with(mine) || !name.ends_with(kIntentSuffix)) continue;
    const std::string_view seq = std::string_view(name).substr(
        mine.size(), name.size() - mine.size() - kIntentSuffix.size());
    if (auto last = ParseDecimal128(seq, "sequence number"); last.ok())
      intents.emplace_back(*last, name);
  }
  std::sort(intents.rbegin(), intents.rend());
  // The newest readable intent: a torn one was never committed (its
  // directory fsync had not returned), and everything before it was.
  std::optional<FlushIntent> newest;
  for (const auto& [last, name] : intents) {
    const std::string path = JoinPath(staging_dir_, name);
    auto text = env_->ReadWholeFile(path);
    if (!text.ok()) return text.status();
    if (auto intent = DecodeIntent(*text, path); intent.ok()) {
      newest = std::move(*intent);
      break;
    }
  }
  if (newest) KS_RETURN_IF_ERROR(Publish(*newest).Prefixed("cannot deliver to '" + o_.dir + "'"));
  // What is left of the shard is from flushes that never committed, and
  // intents that are superseded.
  const std::string keep = newest ? IntentName(shard, newest->last) : "";
  for (const auto& name : names)
    if (name.starts_with(mine) && name != keep)
      KS_RETURN_IF_ERROR(env_->RemoveFile(JoinPath(staging_dir_, name)));
  std::lock_guard l(mu_);
  if (!newest) {
    last_intent_.erase(shard);
    return Recovered{true, std::nullopt};
  }
  last_intent_[shard] = newest->last;
  return Recovered{true, newest->last};
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
