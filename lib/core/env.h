// Env: the seam between the store and the operating system (files, locks,
// directories, the clock), after LevelDB's Env. The store never calls POSIX
// directly, so tests can substitute a clock or inject file-system faults.
//
// Every error names the file it concerns. Objects returned by an Env are owned
// by the caller; an Env itself is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace kstream {

// A file opened for reading only (readers take no locks).
class ReadFile {
 public:
  virtual ~ReadFile() = default;
  virtual Result<uint64_t> Size() = 0;
  // Reads up to n bytes at offset into buf; returns the count (short at EOF).
  virtual Result<size_t> ReadAt(uint64_t offset, size_t n, char* buf) = 0;
  virtual const std::string& path() const = 0;
};

// A file opened for reading and appending. Not thread-safe; cross-process
// appends are serialized by the caller with a LockFile.
class AppendFile : public ReadFile {
 public:
  struct State {
    uint64_t size = 0;
    bool unlinked = false;  // the file was removed (its stream was deleted)
  };
  virtual Result<State> Stat() = 0;
  // Writes all of data at the end of the file.
  virtual Status Append(std::string_view data) = 0;
  // Makes appended data durable (fdatasync). May run on another thread while
  // this one appends: what was appended before the call is covered.
  virtual Status Sync() = 0;
  // Cuts the file to size (used to drop a torn tail before appending).
  virtual Status Truncate(uint64_t size) = 0;
};

// A cross-process advisory lock (flock) on a file kept open, so taking and
// releasing it costs one system call each. Closing releases it.
class LockFile {
 public:
  virtual ~LockFile() = default;
  virtual Status Lock() = 0;        // exclusive; blocks
  virtual Status LockShared() = 0;  // shared; blocks
  virtual void Unlock() = 0;
};

// Holds a LockFile's lock for a scope.
class LockGuard {
 public:
  LockGuard() = default;
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;
  ~LockGuard() {
    if (held_) held_->Unlock();
  }
  Status Acquire(LockFile* lock, bool shared = false) {
    KS_RETURN_IF_ERROR(shared ? lock->LockShared() : lock->Lock());
    held_ = lock;
    return Status::Ok();
  }

 private:
  LockFile* held_ = nullptr;
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide POSIX Env.
  static Env* Default();

  virtual int64_t NowMillis() = 0;

  // Opens path for append; creates it when `create` (failing if it exists).
  virtual Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path, bool create) = 0;
  virtual Result<std::unique_ptr<ReadFile>> OpenRead(const std::string& path) = 0;
  // Writes a whole file atomically: temp file, fsync, rename, fsync directory.
  virtual Status WriteFileAtomic(const std::string& path, std::string_view contents) = 0;
  virtual Result<std::string> ReadWholeFile(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Sorted names of the entries of dir (without "." and "..").
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual Status CreateDir(const std::string& dir) = 0;  // ok if it exists
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RemoveTree(const std::string& dir) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Opens (creating if missing) a file used only for locking.
  virtual Result<std::unique_ptr<LockFile>> OpenLockFile(const std::string& path) = 0;
};

// Forwards every call to another Env: a test Env (a fake clock, injected
// faults) overrides only what it changes.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  int64_t NowMillis() override { return target_->NowMillis(); }
  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path, bool create) override {
    return target_->OpenAppend(path, create);
  }
  Result<std::unique_ptr<ReadFile>> OpenRead(const std::string& path) override {
    return target_->OpenRead(path);
  }
  Status WriteFileAtomic(const std::string& path, std::string_view contents) override {
    return target_->WriteFileAtomic(path, contents);
  }
  Result<std::string> ReadWholeFile(const std::string& path) override {
    return target_->ReadWholeFile(path);
  }
  bool Exists(const std::string& path) override { return target_->Exists(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return target_->ListDir(dir);
  }
  Status CreateDir(const std::string& dir) override { return target_->CreateDir(dir); }
  Status SyncDir(const std::string& dir) override { return target_->SyncDir(dir); }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  Status RemoveTree(const std::string& dir) override { return target_->RemoveTree(dir); }
  Status Rename(const std::string& from, const std::string& to) override {
    return target_->Rename(from, to);
  }
  Result<std::unique_ptr<LockFile>> OpenLockFile(const std::string& path) override {
    return target_->OpenLockFile(path);
  }

 private:
  Env* target_;
};

// Joins path parts with '/'.
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace kstream
