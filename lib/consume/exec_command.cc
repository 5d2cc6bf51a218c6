#include "consume/exec_command.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

extern char** environ;

namespace kstream {

Result<TempInput> TempInput::Create() {
  int fd = ::memfd_create("kstream-batch", MFD_CLOEXEC);
  if (fd < 0) return Status::FromErrno("memfd_create", errno);
  return TempInput(fd);
}

TempInput::~TempInput() {
  if (fd_ >= 0) ::close(fd_);
}

Status TempInput::Rewind() {
  if (::lseek(fd_, 0, SEEK_SET) != 0) return Status::FromErrno("seek batch file", errno);
  return Status::Ok();
}

namespace {

std::string_view VarName(std::string_view var) {
  return var.substr(0, var.find('='));
}

// The caller's environment with `extra` added, replacing same-named entries.
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> vars;
  for (char** e = environ; e && *e; ++e) {
    bool replaced = false;
    for (const auto& x : extra) replaced |= VarName(x) == VarName(*e);
    if (!replaced) vars.emplace_back(*e);
  }
  vars.insert(vars.end(), extra.begin(), extra.end());
  return vars;
}

Result<pid_t> Spawn(const std::string& command, int stdin_fd, const std::vector<std::string>& env) {
  std::vector<std::string> vars = ChildEnvironment(env);
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::string sh = "sh", c = "-c", cmd = command;
  char* argv[] = {sh.data(), c.data(), cmd.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);  // ignored here, so a closed pipe ends us quietly
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::FromErrno("run /bin/sh -c '" + command + "'", rc);
  return pid;
}

// True once the child can be reaped; waits at most timeout_ms.
Result<bool> WaitExit(pid_t pid, int pidfd, int timeout_ms) {
  if (pidfd >= 0) {
    struct pollfd p = {pidfd, POLLIN, 0};
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc < 0 && errno != EINTR) return Status::FromErrno("poll pidfd", errno);
    return rc > 0;
  }
  // No pidfd (old kernel): poll the child every 10 ms.
  siginfo_t info = {};
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    if (::waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
      return true;
    ::poll(nullptr, 0, 10);
  }
  return false;
}

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

}  // namespace

Result<CommandResult> RunCommand(const std::string& command, int stdin_fd,
                                 const std::vector<std::string>& env,
                                 const std::function<Status()>& while_waiting, int poll_ms) {
  KS_ASSIGN_OR_RETURN(pid_t pid, Spawn(command, stdin_fd, env));
  // glibc 2.36's <sys/pidfd.h> lacks extern "C": call the system call itself.
  int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
  Status duty;
  for (;;) {
    auto exited = WaitExit(pid, pidfd, poll_ms);
    if (!exited.ok() || *exited) break;
    if (duty.ok() && while_waiting) duty = while_waiting();
  }
  if (pidfd >= 0) ::close(pidfd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return Status::FromErrno("wait for the command", errno);
  if (!duty.ok()) return duty;
  CommandResult r;
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!r.ok) r.error = Describe(status);
  return r;
}

}  // namespace kstream
