// The work of kstream-deliver: its flags, their checks, and running a
// consumer-group worker whose handler is a Deliverer (lib/deliver).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "cli/tool.h"
#include "core/stop_flag.h"
#include "deliver/layout.h"

namespace kstream::cli {

struct DeliverCommand {
  std::string stream, to, name;
  std::string buffer_size = "5MiB", buffer_interval = "60s";
  std::string compress = "none";
  int level = -1;  // -1: the codec's default
  std::string delimiter = "\\n";
  bool no_delimiter = false, json = false;
  std::string prefix;
  long long max_partitions = kDefaultMaxPartitions;
  bool until_caught_up = false, stats = false;
  std::string iterator = "TRIM_HORIZON", timestamp;
  std::string worker, lease_timeout = "10s";
};

// Adds kstream-deliver's own flags (not the common ones) to app, bound to c.
void AddDeliverOptions(CLI::App& app, DeliverCommand& c);

// Checks the parsed flags and runs; returns the exit status. *stop is set
// by SIGINT/SIGTERM: deliver what is buffered, checkpoint, exit 0.
int RunDeliver(const CLI::App& app, const DeliverCommand& c, const CommonOptions& common,
               const std::string& tool, const StopFlag* stop);

// "\n", "\t", "\0", "\\" and "\r" escapes in a --delimiter value.
Result<std::string> ParseDelimiter(std::string_view text);

}  // namespace kstream::cli
