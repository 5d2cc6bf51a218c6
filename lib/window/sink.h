// Sink: what every kstream-window loop does with a record and with the
// windows it closes: runs it through the Processor, counts it (records,
// filtered, late, invalid), writes late records to --late FILE, and moves
// the emitted lines to the output. Not thread-safe; one per run.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/status.h"
#include "io/record_writer.h"
#include "window/processor.h"
#include "window/runner.h"

namespace kstream::window {

class Sink {
 public:
  // unit names a record in messages: "line" (line 7) or "record".
  Sink(Processor& p, const RunOptions& o, RecordWriter& out, RunStats& stats, const char* unit)
      : p_(p), o_(o), out_(out), stats_(stats), unit_(unit) {}
  ~Sink();
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // Opens --late FILE, if any.
  Status Open();

  // A bad record: counted, or the end of the run (strict, or not the
  // record's fault).
  Status Invalid(uint64_t number, const Status& s);

  // Record `number` (1-based) with `data` followed by 64 readable bytes.
  Status Handle(std::string_view data, int64_t now, uint64_t number) {
    Processor::Outcome outcome;
    int64_t time;
    return Handle(data, now, number, INT64_MIN, outcome, time);
  }
  // The same, late before late_before (Processor::Add); outcome and time
  // say what became of it (outcome kSkipped for a bad record).
  Status Handle(std::string_view data, int64_t now, uint64_t number, int64_t late_before,
                Processor::Outcome& outcome, int64_t& time);

  // Moves emitted lines to the output; writes them when asked or when many.
  Status Drain(bool flush);
  // End of input: emits every open window and writes everything.
  Status Finish();
  // Copies the engine's counters into the stats.
  void CountWindows();

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

}  // namespace kstream::window
