// Running one shell command with a file as its standard input, while the
// caller keeps doing its duties (renewing leases) as the command runs.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace kstream {

// A memory-backed anonymous file (memfd) to fill and pass as stdin; closed
// on destruction.
class TempInput {
 public:
  static Result<TempInput> Create();
  TempInput(TempInput&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  TempInput& operator=(TempInput&&) = delete;
  ~TempInput();
  int fd() const { return fd_; }
  // Back to offset 0 after writing, for the reader.
  Status Rewind();

 private:
  explicit TempInput(int fd) : fd_(fd) {}
  int fd_;
};

struct CommandResult {
  bool ok = false;    // exited with status 0
  std::string error;  // "exit status 3", "killed by signal 9"
};

// Runs `/bin/sh -c command` with stdin_fd as standard input, the caller's
// stdout and stderr, and the environment plus `env` ("NAME=value"; these
// replace variables of the same name). SIGPIPE is reset to its default in
// the child. While it runs, while_waiting is called about every poll_ms; its
// error is returned once the command has ended.
Result<CommandResult> RunCommand(const std::string& command, int stdin_fd,
                                 const std::vector<std::string>& env,
                                 const std::function<Status()>& while_waiting, int poll_ms);

}  // namespace kstream
