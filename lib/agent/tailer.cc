#include "agent/tailer.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "agent/tailed_file.h"

namespace kstream::agent {

namespace {

bool IsCompressedName(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    if (name.size() < ext.size()) return false;
    for (size_t i = 0; i < ext.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(name[name.size() - ext.size() + i])) != ext[i])
        return false;
    return true;
  };
  return ends(".gz") || ends(".bz2") || ends(".zip");
}

int64_t MtimeNs(const struct stat& st) {
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

struct Tailer::Entry {
  std::string path;
  uint64_t dev, ino, size;
  int64_t mtime_ns;
};

namespace {

// The hash of the first `bytes` bytes of fd (nullopt when the file is shorter).
std::optional<uint64_t> HashPrefix(int fd, uint32_t bytes) {
  std::string buf(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::pread(fd, buf.data() + got, bytes - got, off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    got += size_t(n);
  }
  return HashBytes(buf);
}

bool Matches(int fd, const Fingerprint& fp) {
  auto h = HashPrefix(fd, fp.bytes);
  return h && *h == fp.hash;
}

}  // namespace

std::string ReadHead(int fd, uint64_t size) {
  std::string head(std::min<uint64_t>(size, kFingerprintBytes), '\0');
  size_t got = 0;
  while (got < head.size()) {
    ssize_t n = ::pread(fd, head.data() + got, head.size() - got, off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += size_t(n);
  }
  head.resize(got);
  return head;
}

Tailer::Tailer(const FlowConfig& flow, const TailerOptions& options, Env* env)
    : flow_(flow), options_(options), env_(env) {
  const size_t slash = flow_.file_pattern.rfind('/');
  if (slash == std::string::npos) {
    dir_ = ".";
    glob_ = flow_.file_pattern;
  } else {
    dir_ = slash == 0 ? "/" : flow_.file_pattern.substr(0, slash);
    glob_ = flow_.file_pattern.substr(slash + 1);
  }
  // Validated with the configuration.
  if (!flow_.multiline_start_pattern.empty())
    multiline_.emplace(std::move(Regex::Compile(flow_.multiline_start_pattern).value()));
  if (!flow_.file_footer_pattern.empty())
    footer_.emplace(std::move(Regex::Compile(flow_.file_footer_pattern).value()));
}

Tailer::~Tailer() = default;

void Tailer::WarnOnce(const std::string& key, const std::string& message) {
  if (!options_.warn || !warned_.insert(key).second) return;
  options_.warn(message);
}

Result<std::vector<Tailer::Entry>> Tailer::List(bool all_names) {
  std::vector<Entry> out;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return out;  // may appear later
    if (errno == EACCES) {  // may be fixed later; the other flows go on
      WarnOnce(dir_, Status::FromErrno("cannot read directory " + dir_, errno).message());
      return out;
    }
    return Status::FromErrno("open directory " + dir_, errno);
  }
  while (struct dirent* de = ::readdir(d)) {
    const char* name = de->d_name;
    if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
    if (!all_names && (::fnmatch(glob_.c_str(), name, FNM_PERIOD) != 0 || IsCompressedName(name)))
      continue;
    std::string path = dir_ == "/" ? "/" + std::string(name) : dir_ + "/" + name;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.push_back({std::move(path), uint64_t(st.st_dev), uint64_t(st.st_ino), uint64_t(st.st_size),
                   MtimeNs(st)});
  }
  ::closedir(d);
  return out;
}

Result<std::unique_ptr<Tailer::File>> Tailer::Open(const Entry& e) {
  int fd = ::open(e.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::unique_ptr<File>();  // gone meanwhile
    if (errno == EACCES || errno == EPERM) {  // skipped (and tried again) rather than fatal
      WarnOnce(e.path, Status::FromErrno("cannot read " + e.path, errno).message() +
                           " (skipped until it can be read)");
      return std::unique_ptr<File>();
    }
    return Status::FromErrno("open " + e.path, errno);
  }
  auto f = std::make_unique<File>();
  f->fd = fd;
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("stat " + e.path, errno);
  f->id = next_id_++;
  f->path = e.path;
  f->dev = uint64_t(st.st_dev);
  f->ino = uint64_t(st.st_ino);
  f->size = uint64_t(st.st_size);
  f->mtime_ns = MtimeNs(st);
  f->TakeFingerprint();
  f->last_growth_ms = f->last_data_ms = env_->NowMillis();
  return f;
}

Tailer::File* Tailer::FindByInode(uint64_t dev, uint64_t ino) {
  for (auto& f : files_)
    if (f->state != File::State::kRetired && f->dev == dev && f->ino == ino) return f.get();
  return nullptr;
}

void Tailer::StartAt(File& f, uint64_t offset) {
  f.read_offset = f.emitted_offset = f.acked_offset = f.buf_offset = offset;
  f.buf.clear();
  f.buf_pos = 0;
  f.header_left = offset == 0 ? flow_.skip_header_lines : 0;
}

// END_OF_FILE: start after the last complete line, so a line being written
// is not cut in two.
uint64_t Tailer::AlignToLineStart(File& f, uint64_t size) {
  const uint64_t window = std::min<uint64_t>(size, 64 << 10);
  std::string tail(window, '\0');
  ssize_t n = ::pread(f.fd, tail.data(), window, off_t(size - window));
  if (n != ssize_t(window)) return size;
  size_t nl = tail.rfind('\n');
  if (nl == std::string::npos) return window == size ? 0 : size;
  return size - window + nl + 1;
}

Status Tailer::Start(const CheckpointSet& set) {
  const bool started_before = set.HasFlow(flow_.Id());
  std::vector<const FileCheckpoint*> cps;
  for (const auto& c : set.files)
    if (c.flow == flow_.Id()) cps.push_back(&c);
  std::vector<bool> used(cps.size(), false);
  KS_ASSIGN_OR_RETURN(auto entries, List(false));
  std::vector<File*> undecided;
  for (const auto& e : entries) {
    KS_ASSIGN_OR_RETURN(auto f, Open(e));
    if (!f || FindByInode(f->dev, f->ino)) continue;
    bool decided = false;
    for (size_t i = 0; i < cps.size() && !decided; ++i) {
      const FileCheckpoint& c = *cps[i];
      if (used[i] || c.dev != f->dev || c.inode != f->ino) continue;
      // Same inode: the same file only if its first bytes agree and it did
      // not shrink below the checkpoint (else: reused inode or truncated).
      if (Matches(f->fd, c.fingerprint) && c.offset <= f->size) {
        StartAt(*f, c.offset);
        used[i] = true;
      } else {
        StartAt(*f, 0);
      }
      decided = true;
    }
    if (!decided) undecided.push_back(f.get());
    files_.push_back(std::move(f));
  }
  // Checkpoints whose inode is not in the glob: a file renamed away while we
  // were stopped (finish reading it), or copied and truncated (the copy has
  // the fingerprint and at least the offset).
  std::vector<Entry> everything;
  bool listed_all = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (used[i]) continue;
    const FileCheckpoint& c = *cps[i];
    if (!listed_all) {
      KS_ASSIGN_OR_RETURN(everything, List(true));
      listed_all = true;
    }
    for (const auto& e : everything) {
      if (e.dev != c.dev || e.ino != c.inode || FindByInode(e.dev, e.ino)) continue;
      KS_ASSIGN_OR_RETURN(auto f, Open(e));
      if (!f || !Matches(f->fd, c.fingerprint) || c.offset > f->size) break;
      StartAt(*f, c.offset);
      f->in_glob = false;
      used[i] = true;
      files_.push_back(std::move(f));
      break;
    }
    if (used[i]) continue;
    for (size_t k = 0; k < undecided.size(); ++k) {
      File* f = undecided[k];
      if (c.offset > f->size || !Matches(f->fd, c.fingerprint)) continue;
      StartAt(*f, c.offset);
      used[i] = true;
      undecided.erase(undecided.begin() + std::ptrdiff_t(k));
      break;
    }
  }
  // Everything else is new: initialPosition applies only on a flow's first
  // start; later, a file we have not seen appeared while we were stopped.
  for (File* f : undecided) {
    const bool at_end = !started_before && flow_.initial_position == InitialPosition::kEndOfFile;
    StartAt(*f, at_end ? AlignToLineStart(*f, f->size) : 0);
  }
  last_list_ms_ = env_->NowMillis();
  return Status::Ok();
}

// Re-lists the directory: renamed files are found by inode, new ones opened
// (held back when they look like a copy of a live file), missing ones marked.
Status Tailer::Scan(RecordSink& sink) {
  (void)sink;
  const int64_t now = env_->NowMillis();
  KS_ASSIGN_OR_RETURN(auto entries, List(false));
  for (auto& f : files_) f->in_glob = false;
  for (const auto& e : entries) {
    if (File* known = FindByInode(e.dev, e.ino)) {
      known->path = e.path;
      known->in_glob = true;
      continue;
    }
    KS_ASSIGN_OR_RETURN(auto f, Open(e));
    if (!f) continue;
    if (FindByInode(f->dev, f->ino)) continue;  // replaced between stat and open
    StartAt(*f, 0);
    // A copy being made (logrotate copytruncate) may be seen half-written:
    // anything whose first bytes agree with a live file's is held back.
    for (auto& live : files_) {
      if (live->state != File::State::kLive || !f->CouldCopy(*live)) continue;
      f->state = File::State::kSuspect;
      f->suspect_since_ms = now;
      break;
    }
    files_.push_back(std::move(f));
  }
  // Refresh fingerprints of files still shorter than the fingerprint length,
  // and catch a file truncated and refilled past its old size between passes.
  for (auto& f : files_) {
    if (f->state != File::State::kLive || f->fd < 0) continue;
    if (f->fp.bytes > 0 && !f->truncated && !Matches(f->fd, f->fp)) f->truncated = true;
    if (!f->truncated && f->fp.bytes < kFingerprintBytes && f->size > f->fp.bytes)
      f->TakeFingerprint();
  }
  last_list_ms_ = now;
  return Status::Ok();
}

// A new File for f's descriptor, read from 0 (f was truncated); f keeps no
// descriptor.
std::unique_ptr<Tailer::File> Tailer::Reopened(File& f, int64_t now) {
  auto fresh = std::make_unique<File>();
  fresh->id = next_id_++;
  fresh->path = f.path;
  fresh->fd = f.fd;
  f.fd = -1;
  f.truncated = false;
  fresh->dev = f.dev;
  fresh->ino = f.ino;
  fresh->in_glob = f.in_glob;
  fresh->size = f.size;
  fresh->mtime_ns = f.mtime_ns;
  fresh->last_growth_ms = fresh->last_data_ms = now;
  fresh->TakeFingerprint();
  StartAt(*fresh, 0);
  return fresh;
}

Result<size_t> Tailer::Poll(RecordSink& sink, bool relist, size_t budget) {
  const int64_t now = env_->NowMillis();
  bool any_truncated = false;
  for (auto& f : files_) {
    if (f->state == File::State::kRetired || f->fd < 0) continue;
    struct stat st;
    if (::fstat(f->fd, &st) != 0) return Status::FromErrno("stat " + f->path, errno);
    const uint64_t size = uint64_t(st.st_size);
    if (size > f->size) f->last_growth_ms = now;
    f->size = size;
    f->mtime_ns = MtimeNs(st);
    f->unlinked = st.st_nlink == 0;
    if (f->state == File::State::kLive && size < f->read_offset) {
      f->truncated = true;
      any_truncated = true;
    }
  }
  const int64_t refresh = std::min<int64_t>(flow_.max_refresh_ms, 1000);
  if (relist || any_truncated || now - last_list_ms_ >= refresh) KS_RETURN_IF_ERROR(Scan(sink));

  // Copies and truncations.
  for (size_t i = 0; i < files_.size(); ++i) {
    File& s = *files_[i];
    if (s.state != File::State::kSuspect) continue;
    // Its size now, not at this poll's start: a truncation seen since means
    // the copy before it is complete (logrotate copies, then truncates).
    if (struct stat st; ::fstat(s.fd, &st) == 0) s.size = uint64_t(st.st_size);
    s.head = ReadHead(s.fd, s.size);
    File* orig = nullptr;
    bool compatible = false;
    for (auto& f : files_) {
      if (f->state != File::State::kLive || !s.CouldCopy(*f)) continue;
      compatible = true;
      if (f->truncated && s.head.size() >= f->head.size() && s.size >= f->emitted_offset)
        orig = f.get();
    }
    if (orig) {
      // The copy continues the original where reading stopped (same id,
      // offsets and buffered bytes); the truncated original becomes a new
      // file read from 0.
      auto fresh = Reopened(*orig, now);
      orig->fd = s.fd;
      s.fd = -1;
      orig->dev = s.dev;
      orig->ino = s.ino;
      orig->path = s.path;
      orig->in_glob = s.in_glob;
      orig->size = s.size;
      orig->mtime_ns = s.mtime_ns;
      orig->truncated = false;
      s.state = File::State::kRetired;  // an empty shell, dropped below
      s.acked_offset = s.emitted_offset = 0;
      files_.push_back(std::move(fresh));
    } else if (!compatible || options_.once || now - s.suspect_since_ms >= kCopyWaitMs) {
      s.state = File::State::kLive;  // not a copy after all: a new file
      s.TakeFingerprint();
      StartAt(s, 0);
    }
  }
  for (size_t i = 0; i < files_.size(); ++i) {
    File& f = *files_[i];
    if (f.state != File::State::kLive || !f.truncated) continue;
    // Truncated with no copy in sight: what was read is done; start again
    // at 0 as a new file (new id, so in-flight offsets stay with the old one).
    auto fresh = Reopened(f, now);
    KS_RETURN_IF_ERROR(Retire(f, sink));
    files_.push_back(std::move(fresh));
  }

  // Read, oldest first.
  std::vector<File*> order;
  for (auto& f : files_)
    if (f->state == File::State::kLive && f->fd >= 0 && !f->finished) order.push_back(f.get());
  // On equal times (coarse clocks), a rotated-away file is the older.
  std::stable_sort(order.begin(), order.end(), [](const File* a, const File* b) {
    if (a->mtime_ns != b->mtime_ns) return a->mtime_ns < b->mtime_ns;
    return a->in_glob < b->in_glob;
  });
  size_t total = 0;
  for (File* f : order) {
    if (total >= budget) break;
    size_t read = 0;
    KS_RETURN_IF_ERROR(ReadFile(*f, sink, budget - total, read));
    total += read;
  }

  // Close rotated-away files at their end; send held multi-line records.
  for (File* f : order) {
    const bool at_end = f->read_offset >= f->size && !f->backlog;
    if ((!f->in_glob || f->unlinked) && at_end &&
        (options_.once || now - f->last_growth_ms >= kRotateWaitMs)) {
      KS_RETURN_IF_ERROR(Retire(*f, sink));
    } else if (f->has_record && at_end && now - f->last_data_ms >= kMultiLineFlushMs) {
      KS_RETURN_IF_ERROR(FlushRecord(*f, sink));
    }
  }
  // A file finished by its footer is closed once it is rotated away.
  for (auto& f : files_)
    if (f->state == File::State::kLive && f->finished && (!f->in_glob || f->unlinked))
      KS_RETURN_IF_ERROR(Retire(*f, sink));
  // Drop retired files whose records are all durable.
  std::erase_if(files_, [](const std::unique_ptr<File>& f) {
    return f->state == File::State::kRetired && f->acked_offset >= f->emitted_offset;
  });
  return total;
}

Status Tailer::FinishOnce(RecordSink& sink) {
  for (auto& f : files_) {
    if (f->state == File::State::kLive) KS_RETURN_IF_ERROR(FlushRecord(*f, sink));
  }
  return Status::Ok();
}

bool Tailer::CaughtUp() const {
  for (const auto& f : files_) {
    if (f->state == File::State::kLive && f->fd >= 0 && !f->finished &&
        (f->read_offset < f->size || f->backlog))
      return false;
  }
  return true;
}

void Tailer::Acknowledge(uint64_t file_id, uint64_t offset) {
  for (auto& f : files_)
    if (f->id == file_id && offset > f->acked_offset) f->acked_offset = offset;
}

void Tailer::AppendCheckpoints(std::vector<FileCheckpoint>& out, int64_t now_ms) {
  for (const auto& f : files_) {
    if (f->state == File::State::kSuspect) continue;
    if (f->state == File::State::kRetired) {
      if (f->acked_offset >= f->emitted_offset) continue;
      // Superseded by a live file on the same inode (truncated): drop.
      bool superseded = false;
      for (const auto& g : files_)
        superseded |= g->state != File::State::kRetired && g->dev == f->dev && g->ino == f->ino;
      if (superseded) continue;
    }
    FileCheckpoint c;
    c.flow = flow_.Id();
    c.path = f->path;
    c.dev = f->dev;
    c.inode = f->ino;
    c.fingerprint = f->fp;
    c.offset = f->acked_offset;
    c.updated_ms = now_ms;
    out.push_back(std::move(c));
  }
}

std::vector<FileProgress> Tailer::Progress() const {
  std::vector<FileProgress> out;
  for (const auto& f : files_) {
    if (f->state == File::State::kSuspect) continue;
    out.push_back({f->path, f->size, f->acked_offset,
                   f->state == File::State::kRetired || !f->in_glob || f->unlinked});
  }
  return out;
}

int64_t Tailer::NextDeadlineMs() const {
  const int64_t now = env_->NowMillis();
  int64_t best = -1;
  auto consider = [&](int64_t at) {
    const int64_t wait = std::max<int64_t>(0, at - now);
    if (best < 0 || wait < best) best = wait;
  };
  for (const auto& f : files_) {
    if (f->state == File::State::kSuspect) consider(f->suspect_since_ms + kCopyWaitMs);
    if (f->state != File::State::kLive) continue;
    if (f->has_record) consider(f->last_data_ms + kMultiLineFlushMs);
    if (!f->in_glob || f->unlinked) consider(f->last_growth_ms + kRotateWaitMs);
  }
  return best;
}

}  // namespace kstream::agent
