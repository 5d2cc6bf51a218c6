// The work of kstream-get: its flags, their checks, and running either a
// plain read of a stream (RunConsumer) or a consumer-group worker
// (RunGroupWorker) that prints records or runs --exec per batch.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cli/tool.h"
#include "core/stop_flag.h"
#include "store/backend.h"

namespace kstream::cli {

struct GetCommand {
  std::string stream;
  std::vector<std::string> shard_ids;
  std::string iterator = "TRIM_HORIZON", sequence, timestamp;
  bool follow = false, json = false, null_delimited = false, ordered = false;
  bool no_deaggregate = false;
  int64_t limit = -1;
  // Consumer groups.
  std::string group, worker;
  std::string lease_timeout = "10s", checkpoint_interval = "1s";
  // --exec.
  std::string exec, on_failure, batch_window = "0s";
  int batch_size = 100;
  int max_retries = 3;
  bool bisect = false;
};

// The start position from --iterator, --sequence-number and --timestamp
// (usage errors: InvalidArgument).
Status ParseStart(const std::string& iterator, const std::string& sequence,
                  const std::string& timestamp, StartPosition& start);

// Adds kstream-get's own flags (not the common ones) to app, bound to c.
void AddGetOptions(CLI::App& app, GetCommand& c);

// Checks the parsed flags and runs; returns the exit status. Messages go to
// stderr prefixed with `tool`. *stop is set by SIGINT/SIGTERM.
int RunGet(const CLI::App& app, const GetCommand& c, const CommonOptions& common,
           const std::string& tool, const StopFlag* stop);

}  // namespace kstream::cli
