// Tailer: the files of one flow (a glob on the file name in one directory),
// read oldest first and cut into records, across rotation:
//
// - Identity is device + inode plus a fingerprint of the first bytes. Every
//   file stays open while it matches the glob, so a file renamed away
//   (logrotate's default) is read to its end from the same descriptor; it is
//   closed once it no longer matches (or was deleted), is read to the end and
//   has not grown for kRotateWaitMs. Its unterminated last line is then sent.
// - A file whose size drops below what was read was truncated (copytruncate):
//   if a new file with the old fingerprint appeared (the copy), reading goes
//   on in the copy where it stopped, and the truncated file starts again at 0.
//   A new file whose first bytes equal a live file's is held back for up to
//   kCopyWaitMs waiting for that truncation, then read as a new file.
// - Records are lines without their terminator, or with multiLineStartPattern
//   a start line and the lines that follow it; a record longer than
//   max_record_bytes keeps its first bytes and is marked truncated.
// - Offsets: a record carries the file offset just past it. Acknowledge()
//   tells the tailer what is durable; only that goes into checkpoints.
//
// Not thread-safe. Reading uses POSIX calls directly (the files are the
// user's logs; the Env seam covers what kstream writes).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/checkpoint.h"
#include "agent/config.h"
#include "agent/regex.h"
#include "core/env.h"
#include "core/status.h"

namespace kstream::agent {

inline constexpr int64_t kRotateWaitMs = 5000;
inline constexpr int64_t kCopyWaitMs = 3000;
inline constexpr int64_t kMultiLineFlushMs = 1000;

// Receives what a tailer reads, in file order per file.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // A record of file `file_id`; `end_offset` is just past it in the file.
  virtual Status Record(uint64_t file_id, std::string_view data, uint64_t end_offset,
                        bool truncated) = 0;
  // Bytes up to end_offset were consumed without a record (header lines, a
  // footer): they count as done once what came before is durable.
  virtual Status Skip(uint64_t file_id, uint64_t end_offset) = 0;
  // True while the sink takes no more records (back-pressure): the tailer
  // keeps what it read and cuts it into records on a later Poll.
  virtual bool Full() const { return false; }
};

struct FileProgress {
  std::string path;
  uint64_t size = 0;
  uint64_t acked_offset = 0;  // durable
  bool rotated = false;       // no longer matches the glob (or deleted)
};

struct TailerOptions {
  bool once = false;  // --once: no waiting for rotation or copies
  size_t max_record_bytes = 1 << 20;
  std::function<void(const std::string&)> warn;  // e.g. a file that cannot be read
};

class Tailer {
 public:
  Tailer(const FlowConfig& flow, const TailerOptions& options, Env* env);
  ~Tailer();
  Tailer(const Tailer&) = delete;
  Tailer& operator=(const Tailer&) = delete;

  // Opens the matching files and positions them from this flow's
  // checkpoints (or initialPosition when the flow has none).
  Status Start(const CheckpointSet& checkpoints);
  // One pass: re-lists the directory when `relist` (or when due), detects
  // rotation and truncation, and reads up to `budget` bytes. Returns the
  // number of bytes read.
  Result<size_t> Poll(RecordSink& sink, bool relist, size_t budget);
  // --once: every file is read to its end (a partial last line of a live
  // file is held), nothing waits. Sends held multi-line records.
  Status FinishOnce(RecordSink& sink);
  bool CaughtUp() const;

  // Everything of file_id before offset is durable.
  void Acknowledge(uint64_t file_id, uint64_t offset);
  // Checkpoints of the files worth remembering (live ones, and rotated ones
  // whose records are not all durable yet).
  void AppendCheckpoints(std::vector<FileCheckpoint>& out, int64_t now_ms);
  std::vector<FileProgress> Progress() const;
  // The directory of the glob (to watch with inotify).
  const std::string& dir() const { return dir_; }
  // Milliseconds until something time-based is due (a held multi-line
  // record, a rotation wait), -1 for nothing.
  int64_t NextDeadlineMs() const;

  uint64_t lines() const { return lines_; }

 private:
  struct File;
  struct Entry;
  Result<std::vector<Entry>> List(bool all_names);
  Result<std::unique_ptr<File>> Open(const Entry& e);
  File* FindByInode(uint64_t dev, uint64_t ino);
  Status Scan(RecordSink& sink);
  Status ReadFile(File& f, RecordSink& sink, size_t budget, size_t& read);
  Status Split(File& f, RecordSink& sink);
  Status EmitLine(File& f, std::string_view line, uint64_t end, bool truncated, RecordSink& sink);
  Status FlushRecord(File& f, RecordSink& sink);
  Status Retire(File& f, RecordSink& sink);
  void StartAt(File& f, uint64_t offset);
  std::unique_ptr<File> Reopened(File& f, int64_t now);
  uint64_t AlignToLineStart(File& f, uint64_t size);
  void WarnOnce(const std::string& key, const std::string& message);

  FlowConfig flow_;
  TailerOptions options_;
  Env* env_;
  std::string dir_, glob_;
  std::optional<Regex> multiline_;
  std::optional<Regex> footer_;
  std::vector<std::unique_ptr<File>> files_;
  uint64_t next_id_ = 1;
  int64_t last_list_ms_ = 0;
  uint64_t lines_ = 0;
  std::vector<std::optional<std::string_view>> groups_;
  std::set<std::string> warned_;
};

}  // namespace kstream::agent
