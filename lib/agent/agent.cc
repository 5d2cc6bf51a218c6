#include "agent/agent.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <charconv>
#include <deque>
#include <map>
#include <memory>

#include "agent/convert.h"
#include "core/hash_key.h"
#include "core/text.h"

namespace kstream::agent {
namespace {

constexpr int64_t kSyncIntervalMs = 200;  // under load, a sync starts at least this often
constexpr int64_t kFallbackPollMs = 250;  // rescan pace when inotify says nothing
constexpr size_t kPollBudget = 4 << 20;   // bytes read per flow per pass

// (file id, offset) pairs, at most one per file, keeping the largest offset.
class Marks {
 public:
  void Add(uint64_t file, uint64_t offset) {
    for (auto& [f, o] : marks_)
      if (f == file) {
        if (offset > o) o = offset;
        return;
      }
    marks_.emplace_back(file, offset);
  }
  void Merge(const Marks& other) {
    for (auto [f, o] : other.marks_) Add(f, o);
  }
  bool empty() const { return marks_.empty(); }
  void clear() { marks_.clear(); }
  const std::vector<std::pair<uint64_t, uint64_t>>& items() const { return marks_; }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> marks_;
};

// One flow: a tailer feeding converters feeding batches into a writer.
class Flow final : public RecordSink {
 public:
  Flow(const FlowConfig& config, ConverterChain chain, std::unique_ptr<StreamWriter> writer,
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

  Tailer& tailer() { return tailer_; }
  StreamWriter& writer() { return *writer_; }

  Status Record(uint64_t file_id, std::string_view data, uint64_t end, bool truncated) override {
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

  Status Skip(uint64_t file_id, uint64_t end) override { return Mark(file_id, end); }

  // Too many records written and not yet durable: stop reading for now.
  bool Backlogged() const { return unacked_records_ >= MaxUnacked(); }
  bool Full() const override { return unacked_records_ + entries_.size() >= MaxUnacked(); }
  // The records that may be written but not yet durable (the repeat bound).
  uint64_t MaxUnacked() const {
    return config_.publish_queue_capacity * config_.max_buffer_records;
  }
  bool HasBatch() const { return !entries_.empty() || !batch_marks_.empty(); }
  // Milliseconds until the open batch reaches maxBufferAgeMillis (-1: none).
  int64_t BatchDeadlineMs(int64_t now) const {
    if (!HasBatch()) return -1;
    return std::max<int64_t>(0, batch_started_ms_ + config_.max_buffer_age_ms - now);
  }

  Status FlushIfAged(int64_t now) {
    if (HasBatch() && now - batch_started_ms_ >= config_.max_buffer_age_ms) return Flush();
    return Status::Ok();
  }

  // Puts the open batch into the stream (not yet durable).
  Status Flush() {
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

  // Starts a background sync of everything put (one at a time) when the
  // reader is idle, the interval is up, or half the backlog allowance is used.
  Status MaybeBeginSync(bool idle, int64_t now) {
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

  // Applies completed syncs to the tailer's checkpoints. True if any.
  Result<bool> Acknowledge() {
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

  // Everything put becomes durable now (at the end).
  Status SyncAll() {
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

  const FlowStats& stats() {
    stats_.lines = tailer_.lines();
    stats_.files = tailer_.Progress();
    return stats_;
  }

 private:
  struct Entry {
    size_t offset;
    uint32_t key_len, data_len;
  };
  struct SyncGroup {
    uint64_t ticket;
    Marks marks;
    uint64_t records, bytes;
  };

  void AckGroup(const SyncGroup& g) {
    for (auto [file, offset] : g.marks.items()) tailer_.Acknowledge(file, offset);
    stats_.records_sent += g.records;
    stats_.bytes_sent += g.bytes;
    unacked_records_ -= std::min(unacked_records_, g.records);
  }

  Status Mark(uint64_t file_id, uint64_t end) {
    if (!HasBatch()) batch_started_ms_ = env_->NowMillis();
    batch_marks_.Add(file_id, end);
    if (entries_.size() >= config_.max_buffer_records || arena_.size() >= config_.max_buffer_bytes)
      return Flush();
    return Status::Ok();
  }

  void Append(std::string_view data, bool truncated) {
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

  // RANDOM: decimal text of a random double in [0, 1000000); DETERMINISTIC:
  // lowercase hex MD5 of the record's bytes (as the Kinesis Agent means it).
  void AppendKey(std::string_view data) {
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

  uint64_t NextRandom() {  // splitmix64
    uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  const FlowConfig& config_;
  ConverterChain chain_;
  std::unique_ptr<StreamWriter> writer_;
  Tailer tailer_;
  Env* env_;
  FlowStats stats_;
  uint64_t rng_;
  // The open batch.
  std::string arena_;
  std::vector<Entry> entries_;
  Marks batch_marks_;
  uint64_t batch_data_bytes_ = 0;
  int64_t batch_started_ms_ = 0;
  std::vector<PutRecord> views_;
  std::vector<PutResult> results_;
  // Put, no sync started yet; syncs in flight (oldest first).
  Marks unsynced_marks_;
  uint64_t unsynced_records_ = 0, unsynced_bytes_ = 0;
  std::deque<SyncGroup> groups_;
  uint64_t unacked_records_ = 0;
  int64_t last_sync_ms_;
};

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
