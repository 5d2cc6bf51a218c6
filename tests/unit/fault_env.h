// FaultPlanEnv: the POSIX Env with one fault injected at the N-th operation,
// for tests that try a scenario with a fault at every write (or read) point
// in turn.
//
// Write operations (append, fsync, truncate, create, atomic file replace,
// directory fsync, rename, remove) are counted when the plan's fault is a
// write fault; reads (ReadAt, ReadWholeFile) when it is kReadError. The
// operation numbered `fail_at` (from 0) fails:
//   kNoSpace    an append writes half its bytes, then ENOSPC; others ENOSPC
//   kIOError    EIO, nothing done
//   kReadError  EIO on a read
//   kCrash      an append writes half its bytes; from then on every write
//               fails, as in a process that died; DropUnsynced() then does
//               what the power going out would: every file loses what was
//               appended since its last successful fsync.
// Thread-safe (the store syncs on a background thread). KSTREAM_FAULT_TRACE=1
// prints each counted operation with its number.
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <map>
#include <mutex>
#include <string>

#include "core/env.h"

namespace kstest {

enum class Fault { kNoSpace, kIOError, kReadError, kCrash };

class FaultPlanEnv final : public kstream::EnvWrapper {
 public:
  FaultPlanEnv(int64_t fail_at, Fault fault)
      : EnvWrapper(kstream::Env::Default()), fail_at_(fail_at), fault_(fault) {}

  bool fired() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_;
  }
  // The operation the fault hit ("write", "unlink", ...), once fired.
  std::string fired_operation() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_operation_;
  }
  // The injected error's text, to look for in what the code reported.
  static constexpr const char* kMarker = "(injected)";

  // What a crash leaves on disk: each file cut back to its last fsync.
  void DropUnsynced() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [path, size] : synced_) {
      auto f = target()->OpenAppend(path, false);
      if (!f.ok()) continue;  // removed since
      auto now = (*f)->Size();
      if (now.ok() && *now > size) (void)(*f)->Truncate(size);
    }
  }

  // What the n-th counted operation must do: Ok, or the error to return.
  // *partial: an append should write half its bytes first.
  kstream::Status Step(bool is_read, const std::string& what, const std::string& path,
                       bool* partial = nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_ && !is_read) return Error(what, path, "process is gone");
    if (is_read != (fault_ == Fault::kReadError)) return kstream::Status::Ok();
    if (getenv("KSTREAM_FAULT_TRACE"))  // which operation a failing point is
      fprintf(stderr, "fault point %lld: %s %s\n", static_cast<long long>(count_), what.c_str(),
              path.c_str());
    if (count_++ != fail_at_) return kstream::Status::Ok();
    fired_ = true;
    fired_operation_ = what;
    switch (fault_) {
      case Fault::kNoSpace:
        if (partial) *partial = true;
        return Error(what, path, "No space left on device");
      case Fault::kIOError:
      case Fault::kReadError:
        return Error(what, path, "Input/output error");
      case Fault::kCrash:
        if (partial) *partial = true;
        crashed_ = true;
        return Error(what, path, "process is gone");
    }
    return kstream::Status::Ok();
  }

  // The file's durable size (what survives a crash).
  void SetSynced(const std::string& path, uint64_t size, bool only_if_unknown = false) {
    std::lock_guard<std::mutex> lock(mu_);
    if (only_if_unknown && synced_.count(path)) return;
    synced_[path] = size;
  }
  void ShrinkSynced(const std::string& path, uint64_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = synced_.find(path);
    if (it != synced_.end() && it->second > size) it->second = size;
  }

  kstream::Result<std::unique_ptr<kstream::AppendFile>> OpenAppend(const std::string& path,
                                                                   bool create) override;
  kstream::Result<std::unique_ptr<kstream::ReadFile>> OpenRead(const std::string& path) override;
  kstream::Status WriteFileAtomic(const std::string& path, std::string_view contents) override {
    KS_RETURN_IF_ERROR(Step(false, "write", path));
    return target()->WriteFileAtomic(path, contents);
  }
  kstream::Result<std::string> ReadWholeFile(const std::string& path) override {
    KS_RETURN_IF_ERROR(Step(true, "read", path));
    return target()->ReadWholeFile(path);
  }
  kstream::Status CreateDir(const std::string& dir) override {
    KS_RETURN_IF_ERROR(Step(false, "mkdir", dir));
    return target()->CreateDir(dir);
  }
  kstream::Status SyncDir(const std::string& dir) override {
    KS_RETURN_IF_ERROR(Step(false, "fsync", dir));
    return target()->SyncDir(dir);
  }
  kstream::Status RemoveFile(const std::string& path) override {
    KS_RETURN_IF_ERROR(Step(false, "unlink", path));
    return target()->RemoveFile(path);
  }
  kstream::Status RemoveTree(const std::string& dir) override {
    KS_RETURN_IF_ERROR(Step(false, "remove", dir));
    return target()->RemoveTree(dir);
  }
  kstream::Status Rename(const std::string& from, const std::string& to) override {
    KS_RETURN_IF_ERROR(Step(false, "rename", from));
    return target()->Rename(from, to);
  }

 private:
  static kstream::Status Error(const std::string& what, const std::string& path,
                               const char* reason) {
    return kstream::Status::IOError(what + " " + path + ": " + reason + " " + kMarker);
  }

  mutable std::mutex mu_;
  const int64_t fail_at_;
  const Fault fault_;
  int64_t count_ = 0;
  bool fired_ = false;
  std::string fired_operation_;
  bool crashed_ = false;
  std::map<std::string, uint64_t> synced_;
};

class FaultPlanFile final : public kstream::AppendFile {
 public:
  FaultPlanFile(std::unique_ptr<kstream::AppendFile> f, FaultPlanEnv* env)
      : f_(std::move(f)), env_(env) {}
  kstream::Result<uint64_t> Size() override { return f_->Size(); }
  kstream::Result<size_t> ReadAt(uint64_t offset, size_t n, char* buf) override {
    KS_RETURN_IF_ERROR(env_->Step(true, "read", path()));
    return f_->ReadAt(offset, n, buf);
  }
  const std::string& path() const override { return f_->path(); }
  kstream::Result<State> Stat() override { return f_->Stat(); }
  kstream::Status Append(std::string_view data) override {
    bool partial = false;
    if (kstream::Status s = env_->Step(false, "write", path(), &partial); !s.ok()) {
      if (partial && data.size() > 1) (void)f_->Append(data.substr(0, data.size() / 2));
      return s;
    }
    return f_->Append(data);
  }
  kstream::Status Sync() override {
    KS_RETURN_IF_ERROR(env_->Step(false, "fsync", path()));
    KS_RETURN_IF_ERROR(f_->Sync());
    KS_ASSIGN_OR_RETURN(uint64_t size, f_->Size());
    env_->SetSynced(path(), size);
    return kstream::Status::Ok();
  }
  kstream::Status Truncate(uint64_t size) override {
    KS_RETURN_IF_ERROR(env_->Step(false, "truncate", path()));
    KS_RETURN_IF_ERROR(f_->Truncate(size));
    env_->ShrinkSynced(path(), size);
    return kstream::Status::Ok();
  }

 private:
  std::unique_ptr<kstream::AppendFile> f_;
  FaultPlanEnv* env_;
};

class FaultPlanReadFile final : public kstream::ReadFile {
 public:
  FaultPlanReadFile(std::unique_ptr<kstream::ReadFile> f, FaultPlanEnv* env)
      : f_(std::move(f)), env_(env) {}
  kstream::Result<uint64_t> Size() override { return f_->Size(); }
  kstream::Result<size_t> ReadAt(uint64_t offset, size_t n, char* buf) override {
    KS_RETURN_IF_ERROR(env_->Step(true, "read", path()));
    return f_->ReadAt(offset, n, buf);
  }
  const std::string& path() const override { return f_->path(); }

 private:
  std::unique_ptr<kstream::ReadFile> f_;
  FaultPlanEnv* env_;
};

inline kstream::Result<std::unique_ptr<kstream::AppendFile>> FaultPlanEnv::OpenAppend(
    const std::string& path, bool create) {
  if (create) KS_RETURN_IF_ERROR(Step(false, "create", path));
  KS_ASSIGN_OR_RETURN(auto f, target()->OpenAppend(path, create));
  // A file found on disk was made durable before this run's faults; a new
  // one holds nothing durable until its first fsync.
  KS_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  SetSynced(path, create ? 0 : size, /*only_if_unknown=*/true);
  return std::unique_ptr<kstream::AppendFile>(new FaultPlanFile(std::move(f), this));
}

inline kstream::Result<std::unique_ptr<kstream::ReadFile>> FaultPlanEnv::OpenRead(
    const std::string& path) {
  KS_ASSIGN_OR_RETURN(auto f, target()->OpenRead(path));
  return std::unique_ptr<kstream::ReadFile>(new FaultPlanReadFile(std::move(f), this));
}

}  // namespace kstest
