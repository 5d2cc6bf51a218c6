// The record pipeline of kstream-window: parse a record, filter it
// (--where), take its time, build its group key, read its aggregate inputs,
// and hand it to the window engine. One instance per run; not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "io/json_input.h"
#include "window/aggregates.h"
#include "window/engine.h"
#include "window/expr.h"
#include "window/groups.h"
#include "window/input.h"
#include "window/time_format.h"

namespace kstream::window {

// Everything a run is asked to do, as the command line gave it.
struct WindowConfig {
  WindowSpec window;
  std::vector<std::string> group_by;  // dotted paths (CSV: column names)
  std::vector<AggSpec> aggregates;    // fields as dotted paths; empty: count
  std::string where;                  // empty: every record
  std::string time_field;             // empty: processing (or arrival) time
  std::string time_format = "auto";
  int64_t allowed_lateness_ms = 0;
  bool emit_empty = false;
  bool csv = false;
  CsvOptions csv_options;
};

// Checks the combination of options (what the flag parser cannot): exit 2.
Status ValidateConfig(const WindowConfig& config);

class Processor {
 public:
  // external_watermark: see EngineOptions (consumer groups).
  static Result<std::unique_ptr<Processor>> Create(const WindowConfig& config,
                                                   bool external_watermark = false);

  enum class Outcome { kAdded, kFiltered, kLate, kSkipped };
  // One record. `now` is its processing time (or arrival time); it is the
  // record's time unless there is a time field. `line` must be followed by
  // 64 readable bytes. A bad record returns InvalidArgument (the caller
  // counts or stops); other codes are fatal (a CSV header without a field).
  // kSkipped: a blank line or the CSV header.
  Status Add(std::string_view line, int64_t now, Outcome& outcome) {
    int64_t time;
    return Add(line, now, INT64_MIN, outcome, time);
  }
  // The same, for a caller that judges lateness (external_watermark): a
  // record with a time before late_before is late. time: the record's time
  // (set when the outcome is kAdded or kLate).
  Status Add(std::string_view line, int64_t now, int64_t late_before, Outcome& outcome,
             int64_t& time);

  bool event_time() const { return time_slot_ >= 0; }
  int64_t allowed_lateness_ms() const { return allowed_lateness_ms_; }
  WindowEngine& engine() { return *engine_; }

 private:
  Processor() = default;

  FieldSet fields_;
  std::unique_ptr<RecordParser> parser_;
  std::unique_ptr<Expr> where_;
  std::unique_ptr<Aggregates> aggs_;
  GroupFields groups_;
  TimeFormat time_format_;
  int time_slot_ = -1;
  int64_t allowed_lateness_ms_ = 0;
  std::string time_field_;
  std::unique_ptr<WindowEngine> engine_;
  // Reused per record.
  std::vector<FieldValue> values_;
  AggInput input_;
  std::string key_;
};

}  // namespace kstream::window
