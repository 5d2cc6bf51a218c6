#include "window/runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "core/stop_flag.h"
#include "io/record_reader.h"
#include "window/stream_source.h"

namespace kstream::window {
namespace {

constexpr size_t kFlushBytes = 256 * 1024;
constexpr size_t kMaxLine = size_t(1) << 20;  // longer lines are bad records

// What both loops do with a record and with the windows it closes.
class Sink {
 public:
  // unit names a record in messages: "line" (line 7) or "record".
  Sink(Processor& p, const RunOptions& o, RecordWriter& out, RunStats& stats, const char* unit)
      : p_(p), o_(o), out_(out), stats_(stats), unit_(unit) {}
  ~Sink() {
    if (late_fd_ >= 0) ::close(late_fd_);
  }

  Status Open() {
    if (o_.late_file.empty()) return Status::Ok();
    late_fd_ = ::open(o_.late_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (late_fd_ < 0) return Status::FromErrno("open " + o_.late_file, errno);
    late_ = std::make_unique<RecordWriter>(late_fd_, OutputFormat::kLines);
    return Status::Ok();
  }

  // A bad record: counted, or the end of the run (strict, or not the
  // record's fault).
  Status Invalid(uint64_t number, const Status& s) {
    ++stats_.records;
    const std::string where = std::string(unit_) + " " + std::to_string(number);
    if (s.code() != StatusCode::kInvalidArgument) return s;
    if (o_.strict) return s.Prefixed(where);
    if (stats_.invalid++ == 0) stats_.first_invalid = where + ": " + s.message();
    return Status::Ok();
  }

  // Record `number` (1-based) with `data` followed by 64 readable bytes.
  Status Handle(std::string_view data, int64_t now, uint64_t number) {
    Processor::Outcome outcome;
    if (Status s = p_.Add(data, now, outcome); !s.ok()) return Invalid(number, s);
    switch (outcome) {
      case Processor::Outcome::kSkipped:
        return Status::Ok();
      case Processor::Outcome::kAdded:
        ++stats_.aggregated;
        break;
      case Processor::Outcome::kFiltered:
        ++stats_.filtered;
        break;
      case Processor::Outcome::kLate:
        ++stats_.late;
        if (late_) {
          late_->Append(data);
          late_->Append("\n");
          if (late_->buffered() >= kFlushBytes) KS_RETURN_IF_ERROR(late_->Flush());
        }
        break;
    }
    ++stats_.records;
    return Drain(false);
  }

  // Moves emitted lines to the output; writes them when asked or when many.
  Status Drain(bool flush) {
    std::string& lines = p_.engine().output();
    if (!lines.empty()) {
      out_.Append(lines);
      lines.clear();
    }
    if (out_.buffered() >= kFlushBytes || (flush && out_.buffered() > 0))
      KS_RETURN_IF_ERROR(out_.Flush());
    if (flush && late_) KS_RETURN_IF_ERROR(late_->Flush());
    return Status::Ok();
  }

  Status Finish() {
    p_.engine().Finish();
    stats_.windows = p_.engine().windows_emitted();
    stats_.lines = p_.engine().lines_emitted();
    return Drain(true);
  }

  bool closed() const { return out_.closed(); }

 private:
  Processor& p_;
  const RunOptions& o_;
  RecordWriter& out_;
  RunStats& stats_;
  const char* unit_;
  int late_fd_ = -1;
  std::unique_ptr<RecordWriter> late_;
};

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
