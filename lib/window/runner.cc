#include "window/runner.h"

#include <algorithm>

#include "consume/memory_lease_table.h"
#include "core/stop_flag.h"
#include "io/record_reader.h"
#include "window/group_handler.h"
#include "window/sink.h"

namespace kstream::window {
namespace {

constexpr size_t kMaxLine = size_t(1) << 20;  // longer lines are bad records

// Processing time: while no input is ready, close windows as the clock
// passes their end. Returns when input is readable (or at end of input).
void WaitForInput(Processor& p, Sink& sink, RecordReader& reader, Env* env, const StopFlag* stop) {
  while (!*stop) {
    const int64_t now = env->NowMillis();
    p.engine().AdvanceWatermark(now);
    if (!sink.Drain(true).ok() || sink.closed()) return;
    const int64_t next = p.engine().next_close();
    const int64_t wait = next == INT64_MAX ? 60000 : std::clamp<int64_t>(next - now, 1, 60000);
    if (reader.WaitReadable(int(wait))) return;
  }
}

}  // namespace

Status RunOnInput(Processor& p, int fd, Env* env, const RunOptions& o, RecordWriter& out,
                  RunStats& stats, const StopFlag* stop) {
  Sink sink(p, o, out, stats, "line");
  KS_RETURN_IF_ERROR(sink.Open());
  RecordReader reader(fd, '\n', kMaxLine);
  reader.set_interrupt_flag(stop);
  if (!p.event_time()) p.engine().StartAt(env->NowMillis());
  while (!*stop && !sink.closed()) {
    if (!p.event_time()) {
      WaitForInput(p, sink, reader, env, stop);
    } else {
      KS_RETURN_IF_ERROR(sink.Drain(true));
    }
    if (*stop) break;  // a signal while waiting: emit what is open
    KS_ASSIGN_OR_RETURN(bool more, reader.Fill());
    if (!more) break;
    const int64_t now = env->NowMillis();
    RecordReader::Item item;
    while (reader.Next(item)) {
      if (item.too_long) {
        KS_RETURN_IF_ERROR(
            sink.Invalid(item.number, Status::InvalidArgument("line longer than 1 MiB")));
        continue;
      }
      KS_RETURN_IF_ERROR(sink.Handle(item.data, now, item.number));
      if (sink.closed()) break;
    }
  }
  return sink.Finish();
}

Status RunOnStream(Processor& p, Backend& backend, const StreamInput& in, Env* env,
                   const RunOptions& o, RecordWriter& out, RunStats& stats, const StopFlag* stop) {
  KS_RETURN_IF_ERROR(backend.ListShards(in.stream).status());
  // A consumer group of one, in memory: the same per-shard reading and
  // watermarks as --group, without checkpoints to keep.
  MemoryLeaseTable table;
  GroupOptions g;
  g.group = "kstream-window";
  g.worker = DefaultWorkerId();
  g.start = in.start;
  g.follow = in.follow;
  g.deaggregate = in.deaggregate;
  g.checkpoint_interval_ms = 60'000;
  return RunOnGroup(p, backend, table, in.stream, g, env, o, out, stats, stop,
                    /*emit_open_at_stop=*/true);
}

}  // namespace kstream::window
