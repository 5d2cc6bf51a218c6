#include "agent/agent.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <map>
#include <memory>

#include "agent/convert.h"
#include "agent/flow.h"
#include "core/text.h"

namespace kstream::agent {
namespace {

constexpr int64_t kFallbackPollMs = 250;  // rescan pace when inotify says nothing
constexpr size_t kPollBudget = 4 << 20;   // bytes read per flow per pass

// inotify on the flows' directories; a directory that does not exist yet is
// tried again on each Refresh.
class DirWatch {
 public:
  DirWatch() { fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC); }
  ~DirWatch() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  void Refresh(const std::vector<std::string>& dirs) {
    if (fd_ < 0) return;
    for (const auto& d : dirs) {
      if (watched_.count(d)) continue;
      const uint32_t mask = IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_MODIFY |
                            IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
      int wd = ::inotify_add_watch(fd_, d.c_str(), mask);
      if (wd >= 0) watched_[d] = wd;
    }
  }
  // Drains pending events; true when files were created, moved or deleted.
  bool Drain() {
    bool structural = false;
    alignas(struct inotify_event) char buf[16384];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n <= 0) break;
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<struct inotify_event*>(p);
        if (ev->mask & (IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_Q_OVERFLOW))
          structural = true;
        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
          structural = true;
          std::erase_if(watched_, [&](const auto& kv) { return kv.second == ev->wd; });
        }
        p += sizeof(struct inotify_event) + ev->len;
      }
    }
    return structural;
  }

 private:
  int fd_ = -1;
  std::map<std::string, int> watched_;
};

// Only one agent at a time may own a checkpoint file.
class CheckpointLock {
 public:
  ~CheckpointLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Acquire(const std::string& path) {
    const std::string lock = path + ".lock";
    fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::FromErrno("open " + lock, errno);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        return Status::FailedPrecondition("another kstream-agent is using the checkpoint file " +
                                          path);
      return Status::FromErrno("lock " + lock, errno);
    }
    return Status::Ok();
  }

 private:
  int fd_ = -1;
};

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

class Agent {
 public:
  Agent(const AgentConfig& config, Backend& backend, const AgentOptions& options, Env* env)
      : config_(config), backend_(backend), o_(options), env_(env) {}

  Status Run() {
    KS_RETURN_IF_ERROR(env_->CreateDir(Dirname(o_.checkpoint_file)));
    KS_RETURN_IF_ERROR(lock_.Acquire(o_.checkpoint_file));
    KS_ASSIGN_OR_RETURN(loaded_, LoadCheckpoints(env_, o_.checkpoint_file));
    TailerOptions topts;
    topts.once = o_.once;
    topts.warn = [this](const std::string& m) {
      if (o_.log) o_.log("warning: " + m);
    };
    for (const auto& fc : config_.flows) {
      KS_ASSIGN_OR_RETURN(auto chain, ConverterChain::Make(fc.processing, env_));
      auto writer = backend_.OpenWriter(fc.stream, SyncMode::kBatch);
      if (!writer.ok()) {
        if (writer.status().code() == StatusCode::kNotFound)
          return Status::NotFound("stream '" + fc.stream +
                                  "' does not exist (create it with: kstream create " + fc.stream +
                                  ")");
        return writer.status();
      }
      flows_.push_back(
          std::make_unique<Flow>(fc, std::move(chain), std::move(*writer), topts, env_));
      KS_RETURN_IF_ERROR(flows_.back()->tailer().Start(loaded_));
    }
    // Remember where every flow starts before anything is sent: a restart
    // must not apply initialPosition (END_OF_FILE) a second time.
    KS_RETURN_IF_ERROR(WriteCheckpoints());
    Status s = Loop();
    Status end = Finish(s.ok() && o_.once);
    if (o_.on_stats) o_.on_stats(Stats());
    return s.ok() ? end : s;
  }

 private:
  Status Loop() {
    int64_t last_stats = env_->NowMillis();
    bool relist = false;
    for (;;) {
      if (o_.stop && *o_.stop) return Status::Ok();
      std::vector<std::string> dirs;
      for (auto& f : flows_) dirs.push_back(f->tailer().dir());
      watch_.Refresh(dirs);
      const int64_t now = env_->NowMillis();
      bool progressed = false;
      for (auto& f : flows_) {
        if (f->Backlogged()) continue;
        KS_ASSIGN_OR_RETURN(size_t n, f->tailer().Poll(*f, relist, kPollBudget));
        progressed |= n > 0;
      }
      relist = false;
      bool acked = false;
      bool backlogged = false;
      for (auto& f : flows_) {
        KS_RETURN_IF_ERROR(f->FlushIfAged(now));
        if (o_.once && !progressed) KS_RETURN_IF_ERROR(f->Flush());
        KS_RETURN_IF_ERROR(f->MaybeBeginSync(!progressed, now));
        KS_ASSIGN_OR_RETURN(bool a, f->Acknowledge());
        acked |= a;
        backlogged |= f->Backlogged();
      }
      if (acked) {
        KS_RETURN_IF_ERROR(WriteCheckpoints());
        if (o_.on_progress) o_.on_progress(Stats());
      }
      if (o_.stats_interval_ms > 0 && o_.on_stats && now - last_stats >= o_.stats_interval_ms) {
        o_.on_stats(Stats());
        last_stats = now;
      }
      if (o_.once && !progressed) {
        bool done = true;
        for (auto& f : flows_) done &= f->tailer().CaughtUp();
        if (done) return Status::Ok();
      }
      if (progressed && !backlogged) continue;
      relist = Wait(backlogged);
    }
  }

  // Sleeps until a file changes, a sync completes, a deadline passes or a
  // stop is asked for. Returns true when the directories changed.
  bool Wait(bool backlogged) {
    const int64_t now = env_->NowMillis();
    int64_t timeout = o_.once ? 10 : kFallbackPollMs;
    std::vector<struct pollfd> fds;
    if (watch_.fd() >= 0) fds.push_back({watch_.fd(), POLLIN, 0});
    if (o_.stop_fd >= 0) fds.push_back({o_.stop_fd, POLLIN, 0});
    for (auto& f : flows_) {
      if (int fd = f->writer().sync_event_fd(); fd >= 0) fds.push_back({fd, POLLIN, 0});
      for (int64_t d : {f->BatchDeadlineMs(now), f->tailer().NextDeadlineMs()})
        if (d >= 0 && d < timeout) timeout = d;
    }
    if (backlogged && timeout > 50) timeout = 50;
    ::poll(fds.data(), fds.size(), int(timeout));
    bool structural = false;
    for (auto& p : fds) {
      if (!(p.revents & POLLIN)) continue;
      if (p.fd == watch_.fd()) {
        structural |= watch_.Drain();
      } else if (p.fd != o_.stop_fd) {
        uint64_t drained;
        (void)!::read(p.fd, &drained, sizeof(drained));
      }
    }
    return structural;
  }

  // Makes everything put durable and checkpoints it. With once, held
  // multi-line records are sent first (a partial last line stays held).
  Status Finish(bool once_complete) {
    Status first;
    for (auto& f : flows_) {
      Status s = once_complete ? f->tailer().FinishOnce(*f) : Status::Ok();
      if (s.ok()) s = f->SyncAll();
      if (first.ok()) first = s;
    }
    Status w = WriteCheckpoints();
    return first.ok() ? w : first;
  }

  Status WriteCheckpoints() {
    const int64_t now = env_->NowMillis();
    CheckpointSet set;
    for (auto& f : flows_) {
      set.flows.push_back(f->stats().flow);
      f->tailer().AppendCheckpoints(set.files, now);
    }
    // Other flows' checkpoints (another configuration sharing the file) are
    // kept until checkpointTimeToLiveDays after their last update.
    const int64_t ttl_ms = config_.checkpoint_ttl_days * 86400000;
    for (const auto& c : loaded_.files) {
      if (set.HasFlow(c.flow) || now - c.updated_ms > ttl_ms) continue;
      set.files.push_back(c);
      if (!set.HasFlow(c.flow)) set.flows.push_back(c.flow);
    }
    for (const auto& id : loaded_.flows)
      if (!set.HasFlow(id)) set.flows.push_back(id);
    return SaveCheckpoints(env_, o_.checkpoint_file, set);
  }

  AgentStats Stats() {
    AgentStats s;
    for (auto& f : flows_) {
      s.flows.push_back(f->stats());
      s.records_sent += s.flows.back().records_sent;
      s.bytes_sent += s.flows.back().bytes_sent;
    }
    return s;
  }

  const AgentConfig& config_;
  Backend& backend_;
  const AgentOptions& o_;
  Env* env_;
  CheckpointLock lock_;
  CheckpointSet loaded_;
  std::vector<std::unique_ptr<Flow>> flows_;
  DirWatch watch_;
};

}  // namespace

std::string StatsJson(const AgentStats& stats) {
  std::string out = "{\"flows\":[";
  for (size_t i = 0; i < stats.flows.size(); ++i) {
    const FlowStats& f = stats.flows[i];
    if (i) out += ',';
    out += "{\"flow\":";
    AppendJsonString(out, f.flow);
    out += ",\"stream\":";
    AppendJsonString(out, f.stream);
    out += ",\"linesRead\":" + std::to_string(f.lines) +
           ",\"recordsSent\":" + std::to_string(f.records_sent) +
           ",\"bytesSent\":" + std::to_string(f.bytes_sent) +
           ",\"parseFailures\":" + std::to_string(f.parse_failures) +
           ",\"truncatedRecords\":" + std::to_string(f.truncated) + ",\"files\":[";
    for (size_t k = 0; k < f.files.size(); ++k) {
      const FileProgress& p = f.files[k];
      if (k) out += ',';
      out += "{\"path\":";
      AppendJsonString(out, p.path);
      out += ",\"size\":" + std::to_string(p.size) +
             ",\"offset\":" + std::to_string(p.acked_offset) + ",\"bytesBehind\":" +
             std::to_string(p.size > p.acked_offset ? p.size - p.acked_offset : 0) +
             ",\"rotated\":" + (p.rotated ? "true" : "false") + "}";
    }
    out += "]}";
  }
  out += "],\"recordsSent\":" + std::to_string(stats.records_sent) +
         ",\"bytesSent\":" + std::to_string(stats.bytes_sent) + "}";
  return out;
}

Status RunAgent(const AgentConfig& config, Backend& backend, const AgentOptions& options,
                Env* env) {
  Agent agent(config, backend, options, env);
  return agent.Run();
}

}  // namespace kstream::agent
