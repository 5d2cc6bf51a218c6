// ChangeWatch on Linux inotify: a follower sleeps in poll(2) and wakes as soon
// as any writer appends to a shard of the stream or its metadata changes.
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

#include "core/env.h"
#include "store/local_internal.h"

namespace kstream {
namespace {

constexpr uint32_t kShardEvents = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF;

class InotifyWatch final : public ChangeWatch {
 public:
  InotifyWatch(int fd, std::string stream_dir) : fd_(fd), dir_(std::move(stream_dir)) {}
  ~InotifyWatch() override { ::close(fd_); }

  Status Init() {
    // The stream directory (stream.json is renamed in on every change) and
    // the shards directory (new shards after a reshard), then every shard.
    if (inotify_add_watch(fd_, dir_.c_str(),
                          IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF) < 0)
      return Status::FromErrno("watch " + dir_, errno);
    const std::string shards = JoinPath(dir_, "shards");
    if (inotify_add_watch(fd_, shards.c_str(), IN_CREATE | IN_MOVED_TO) < 0)
      return Status::FromErrno("watch " + shards, errno);
    auto names = Env::Default()->ListDir(shards);
    if (!names.ok()) return names.status();
    for (const auto& n : *names) AddShard(JoinPath(shards, n));
    return Status::Ok();
  }

  Status Wait(int timeout_ms) override {
    struct pollfd p = {fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc < 0 && errno != EINTR) return Status::FromErrno("poll inotify", errno);
    if (rc > 0) return Drain();
    return Status::Ok();
  }

 private:
  void AddShard(const std::string& path) {
    // A shard directory that vanished meanwhile is simply not watched.
    (void)inotify_add_watch(fd_, path.c_str(), kShardEvents);
  }

  Status Drain() {
    alignas(struct inotify_event) char buf[16384];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return Status::Ok();
        return Status::FromErrno("read inotify", errno);
      }
      if (n == 0) return Status::Ok();
      for (char* p = buf; p < buf + n;) {
        auto* e = reinterpret_cast<struct inotify_event*>(p);
        if ((e->mask & IN_ISDIR) && (e->mask & (IN_CREATE | IN_MOVED_TO)) && e->len > 0 &&
            std::string_view(e->name).substr(0, 8) == "shardId-")
          AddShard(JoinPath(JoinPath(dir_, "shards"), e->name));
        p += sizeof(struct inotify_event) + e->len;
      }
    }
  }

  int fd_;
  std::string dir_;
};

}  // namespace

Result<std::unique_ptr<ChangeWatch>> NewInotifyWatch(const std::string& stream_dir) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return Status::FromErrno("inotify_init1", errno);
  auto w = std::make_unique<InotifyWatch>(fd, stream_dir);
  KS_RETURN_IF_ERROR(w->Init());
  return std::unique_ptr<ChangeWatch>(std::move(w));
}

}  // namespace kstream
