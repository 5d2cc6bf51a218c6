#include "window/runner.h"

#include <algorithm>

#include "core/stop_flag.h"
#include "io/record_reader.h"
#include "window/sink.h"
#include "window/stream_source.h"

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
  Sink sink(p, o, out, stats, "record");
  KS_RETURN_IF_ERROR(sink.Open());
  StreamSource source(backend, in.stream, in.start, in.follow, in.deaggregate);
  KS_RETURN_IF_ERROR(source.Open());
  std::string padded;
  uint64_t number = 0;
  while (!*stop && !sink.closed()) {
    StreamSource::Record r;
    KS_ASSIGN_OR_RETURN(auto state, source.Next(r));
    if (state == StreamSource::State::kEnd) break;
    if (state == StreamSource::State::kIdle) {
      // Arrival time moves on with the clock while nothing arrives.
      const int64_t now = env->NowMillis();
      if (!p.event_time()) p.engine().AdvanceWatermark(now - o.idle_lag_ms);
      KS_RETURN_IF_ERROR(sink.Drain(true));
      const int64_t next = p.engine().next_close();
      const int64_t wait = next == INT64_MAX || p.event_time()
                               ? 1000
                               : std::clamp<int64_t>(next + o.idle_lag_ms - now, 1, 1000);
      KS_RETURN_IF_ERROR(source.Wait(int(wait)));
      continue;
    }
    // The parser needs readable padding after the record.
    padded.assign(r.data);
    padded.append(64, '\0');
    KS_RETURN_IF_ERROR(
        sink.Handle(std::string_view(padded.data(), r.data.size()), r.arrival_ms, ++number));
  }
  stats.corrupt = source.corrupt_records();
  stats.malformed = source.malformed_aggregates();
  return sink.Finish();
}

}  // namespace kstream::window
