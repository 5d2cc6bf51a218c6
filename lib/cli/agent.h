// The work of kstream-agent: its flags (agent.json with -c, or one flow from
// --file/--stream and friends), their checks, and RunAgent with progress,
// --stats and messages on stderr.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cli/tool.h"
#include "core/stop_flag.h"

namespace kstream::cli {

struct AgentCommand {
  std::string config_file;  // -c
  // One flow from flags.
  std::string file, stream;
  std::vector<std::string> formats;  // SINGLELINE, CSVTOJSON, LOGTOJSON:FORMAT, ADDMETADATA
  std::vector<std::string> fields;
  std::string delimiter, match_pattern, metadata, multiline;
  std::string initial_position = "END_OF_FILE", partition_key = "RANDOM";
  int64_t skip_header_lines = 0;
  std::string max_buffer_age = "60s", max_buffer_bytes = "5MiB";
  int64_t max_buffer_records = 500;
  int64_t publish_queue_capacity = 100;
  bool send_unmatched = false, timestamp = false;
  // Both modes.
  std::string checkpoint_file;
  bool once = false, stats = false;
  std::string stats_interval;
};

// Adds kstream-agent's own flags (not the common ones) to app, bound to c.
void AddAgentOptions(CLI::App& app, AgentCommand& c);

// Checks the flags or the configuration and runs; returns the exit status
// (2 for bad flags or an invalid configuration). *stop is set by SIGTERM.
int RunAgentCommand(const CLI::App& app, const AgentCommand& c, const CommonOptions& common,
                    const std::string& tool, const StopFlag* stop);

}  // namespace kstream::cli
