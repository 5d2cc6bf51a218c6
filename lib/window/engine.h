// Window engines: assign records to windows, keep each window's groups, and
// emit a window's lines once the watermark passes its end.
//
// Time is in epoch milliseconds. The watermark is the largest record time
// seen minus the allowed lateness (with processing time the caller also
// moves it to "now"). A window [start, end) is closed once watermark >= end;
// a record whose every window is closed is late: Add() refuses it and the
// caller drops or saves it. Tumbling and sliding windows are aligned to the
// epoch: starts are whole multiples of the slide. Sessions are per group:
// a session ends `gap` after its last record, and a record that bridges two
// sessions merges them. Memory: open windows x groups (x sketch sizes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "window/aggregates.h"
#include "window/groups.h"

namespace kstream::window {

struct WindowSpec {
  enum class Kind { kTumbling, kSliding, kSession };
  Kind kind = Kind::kTumbling;
  int64_t size_ms = 0;   // window length (tumbling, sliding)
  int64_t slide_ms = 0;  // distance between starts (sliding; = size when tumbling)
  int64_t gap_ms = 0;    // session gap
};

struct EngineOptions {
  WindowSpec spec;
  int64_t allowed_lateness_ms = 0;
  bool emit_empty = false;  // fixed windows without grouping only
  // The caller judges lateness and moves the watermark (consumer groups:
  // one watermark per shard, see group_handler.h): Add() then takes every
  // record, reopening a window the watermark passed (it is emitted again,
  // as a further partial line, at the next AdvanceWatermark).
  bool external_watermark = false;
};

class WindowEngine {
 public:
  virtual ~WindowEngine() = default;
  // Adds a record at time t to its window(s) and group (key, hash =
  // HashBytes(key)). False when the record is late (nothing was added).
  // Then moves the watermark to t - allowed lateness, emitting what closes.
  virtual bool Add(int64_t t, std::string_view key, uint64_t hash, const AggInput& in) = 0;
  // Moves the watermark to at least w (processing time, idle input) and
  // emits every window that ends at or before it.
  virtual void AdvanceWatermark(int64_t w) = 0;
  // Starts --emit-empty at the window holding t (processing time begins
  // with the run, not with the first record).
  virtual void StartAt(int64_t /*t*/) {}
  // End of input: emits every open window.
  virtual void Finish() = 0;
  // When the next window closes (for a timer), or INT64_MAX.
  virtual int64_t next_close() const = 0;
  // Records with a time before this are late at watermark w (all their
  // windows have closed).
  virtual int64_t LateBefore(int64_t w) const = 0;
  // The earliest start of an open window (INT64_MAX: none): every record
  // added with a time before it sits only in emitted windows.
  virtual int64_t min_open_start() const = 0;
  // A coarser time, for a caller that keeps fewer distinct times:
  // Bucket(t) < min_open_start() implies t < min_open_start() (fixed
  // windows: the start of t's last window, exact as starts are multiples of
  // the slide; sessions: t rounded up).
  virtual int64_t Bucket(int64_t t) const { return t; }
  int64_t watermark() const { return watermark_; }

  // Lines emitted so far; the caller writes and clears it.
  std::string& output() { return out_; }
  uint64_t windows_emitted() const { return windows_emitted_; }
  uint64_t lines_emitted() const { return lines_emitted_; }

 protected:
  // Appends {"window_start":"...","window_end":"..." to out_.
  void AppendPrefix(std::string& out, int64_t start, int64_t end);
  int64_t watermark_ = INT64_MIN;
  std::string out_;
  uint64_t windows_emitted_ = 0;
  uint64_t lines_emitted_ = 0;
};

// aggs and fields must outlive the engine.
std::unique_ptr<WindowEngine> NewWindowEngine(const EngineOptions& options, const Aggregates& aggs,
                                              const GroupFields& fields);

// floor(a / b) for b > 0, also for negative a.
inline int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b) < 0 ? 1 : 0);
}

}  // namespace kstream::window
