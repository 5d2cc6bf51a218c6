// The loops of kstream-window: records from standard input (or a file
// descriptor) or from a stream in the store, through a Processor, with the
// windows written to `out` as they close. Bad records are skipped and
// counted, or stop the run (strict). Late records are dropped and counted,
// or written to a file.
#pragma once

#include <cstdint>
#include <string>

#include "core/env.h"
#include "core/stop_flag.h"
#include "io/record_writer.h"
#include "store/backend.h"
#include "window/processor.h"

namespace kstream::window {

struct RunOptions {
  bool strict = false;    // stop at the first bad record
  std::string late_file;  // where late records go (empty: dropped)
  // With a stream and no time field: while caught up, the watermark follows
  // the wall clock minus this (records may land a little after their
  // arrival timestamp).
  int64_t idle_lag_ms = 500;
};

struct RunStats {
  uint64_t records = 0;     // records read (not counting blank lines and a CSV header)
  uint64_t aggregated = 0;  // records in at least one window
  uint64_t filtered = 0;    // --where was false
  uint64_t invalid = 0;     // skipped bad records
  uint64_t late = 0;
  uint64_t windows = 0;       // windows emitted
  uint64_t lines = 0;         // output lines
  uint64_t corrupt = 0;       // damaged records the store skipped (--stream)
  uint64_t malformed = 0;     // malformed KPL aggregates read raw (--stream)
  std::string first_invalid;  // "line 7: invalid JSON: ..."
};

// Reads fd to its end (or until *stop), then emits every open window.
Status RunOnInput(Processor& processor, int fd, Env* env, const RunOptions& options,
                  RecordWriter& out, RunStats& stats, const StopFlag* stop);

struct StreamInput {
  std::string stream;
  StartPosition start;
  bool follow = false;
  bool deaggregate = true;  // KPL aggregates as their user records
};
// Reads a stream (to its end, or following until *stop); the record's time
// is its arrival time unless there is a time field. It runs a consumer-group
// worker over a lease table in memory (group_handler.h: parents before
// children, a watermark per shard) and emits the open windows at the end and
// at a stop. The processor must be created with external_watermark.
Status RunOnStream(Processor& processor, Backend& backend, const StreamInput& input, Env* env,
                   const RunOptions& options, RecordWriter& out, RunStats& stats,
                   const StopFlag* stop);

}  // namespace kstream::window
