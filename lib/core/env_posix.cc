// The POSIX implementation of Env.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/env.h"

namespace kstream {

Status Status::FromErrno(const std::string& context, int err) {
  std::string m = context + ": " + std::strerror(err);
  if (err == ENOENT) return NotFound(m);
  return IOError(m);
}

std::string JoinPath(std::string_view a, std::string_view b) {
  std::string s(a);
  if (!s.empty() && s.back() != '/') s += '/';
  s += b;
  return s;
}

namespace {

Status WriteAll(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + path, errno);
    }
    p += w;
    n -= size_t(w);
  }
  return Status::Ok();
}

Result<size_t> PreadFull(int fd, uint64_t offset, size_t n, char* buf, const std::string& path) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf + got, n - got, off_t(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read " + path, errno);
    }
    if (r == 0) break;
    got += size_t(r);
  }
  return got;
}

Result<uint64_t> FdSize(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("stat " + path, errno);
  return uint64_t(st.st_size);
}

class PosixAppendFile final : public AppendFile {
 public:
  PosixAppendFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixAppendFile() override { ::close(fd_); }
  Result<State> Stat() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::FromErrno("stat " + path_, errno);
    return State{uint64_t(st.st_size), st.st_nlink == 0};
  }
  Result<uint64_t> Size() override { return FdSize(fd_, path_); }
  Result<size_t> ReadAt(uint64_t offset, size_t n, char* buf) override {
    return PreadFull(fd_, offset, n, buf, path_);
  }
  Status Append(std::string_view data) override {
    if (failed_) return Status::IOError("write " + path_ + ": an earlier fsync failed");
    return WriteAll(fd_, data.data(), data.size(), path_);
  }
  Status Sync() override {
    if (failed_) return Status::IOError("fsync " + path_ + ": an earlier fsync failed");
    if (::fdatasync(fd_) != 0) {
      // After a failed fsync the kernel may have dropped the dirty pages: the
      // file's state is unknown, so every later write must fail too.
      failed_ = true;
      return Status::FromErrno("fsync " + path_, errno);
    }
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, off_t(size)) != 0) return Status::FromErrno("truncate " + path_, errno);
    return Status::Ok();
  }
  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
  std::atomic<bool> failed_{false};  // Sync may run on another thread
};

class PosixReadFile final : public ReadFile {
 public:
  PosixReadFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixReadFile() override { ::close(fd_); }
  Result<uint64_t> Size() override { return FdSize(fd_, path_); }
  Result<size_t> ReadAt(uint64_t offset, size_t n, char* buf) override {
    return PreadFull(fd_, offset, n, buf, path_);
  }
  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

class PosixLockFile final : public LockFile {
 public:
  PosixLockFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixLockFile() override { ::close(fd_); }  // closing releases the flock
  Status Lock() override { return Flock(LOCK_EX); }
  Status LockShared() override { return Flock(LOCK_SH); }
  void Unlock() override { ::flock(fd_, LOCK_UN); }

 private:
  Status Flock(int op) {
    while (::flock(fd_, op) != 0) {
      if (errno != EINTR) return Status::FromErrno("lock " + path_, errno);
    }
    return Status::Ok();
  }
  int fd_;
  std::string path_;
};

class PosixEnv final : public Env {
 public:
  int64_t NowMillis() override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }

  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path, bool create) override {
    int flags = O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    return std::unique_ptr<AppendFile>(new PosixAppendFile(fd, path));
  }

  Result<std::unique_ptr<ReadFile>> OpenRead(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    return std::unique_ptr<ReadFile>(new PosixReadFile(fd, path));
  }

  Status WriteFileAtomic(const std::string& path, std::string_view contents) override {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("create " + tmp, errno);
    Status s = WriteAll(fd, contents.data(), contents.size(), tmp);
    if (s.ok() && ::fsync(fd) != 0) s = Status::FromErrno("fsync " + tmp, errno);
    ::close(fd);
    if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
      s = Status::FromErrno("rename " + tmp, errno);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
    return SyncDir(std::filesystem::path(path).parent_path().string());
  }

  Result<std::string> ReadWholeFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t r = ::read(fd, buf, sizeof(buf));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        int err = errno;
        ::close(fd);
        return Status::FromErrno("read " + path, err);
      }
      if (r == 0) break;
      out.append(buf, size_t(r));
    }
    ::close(fd);
    return out;
  }

  bool Exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return Status::FromErrno("list " + dir, errno);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names.emplace_back(e->d_name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status CreateDir(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IOError("create directory " + dir + ": " + ec.message());
    return Status::Ok();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open directory " + dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::FromErrno("fsync directory " + dir, err);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return Status::FromErrno("remove " + path, errno);
    return Status::Ok();
  }

  Status RemoveTree(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (ec) return Status::IOError("remove " + dir + ": " + ec.message());
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return Status::FromErrno("rename " + from + " to " + to, errno);
    return Status::Ok();
  }

  Result<std::unique_ptr<LockFile>> OpenLockFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("open lock " + path, errno);
    return std::unique_ptr<LockFile>(new PosixLockFile(fd, path));
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

}  // namespace kstream
