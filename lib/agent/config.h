// The Kinesis Agent's configuration (agent.json) as kstream-agent reads it:
// the same keys, value ranges and defaults (reference:
// agent-firehose-scaling.md §1). Values may be JSON numbers or numeric
// strings. Keys that only make sense on AWS are accepted and ignored (one
// notice), unknown keys give a warning, invalid values fail with the key's
// path ("flows[0].maxBufferSizeRecords: ...").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/convert.h"
#include "core/status.h"

namespace kstream::agent {

enum class PartitionKeyOption { kRandom, kDeterministic };
enum class InitialPosition { kStartOfFile, kEndOfFile };

struct FlowConfig {
  std::string file_pattern;  // directory part literal, glob on the file name
  std::string stream;        // kinesisStream (or deliveryStream)
  PartitionKeyOption partition_key = PartitionKeyOption::kRandom;
  InitialPosition initial_position = InitialPosition::kEndOfFile;
  int64_t max_buffer_age_ms = 60000;    // 1000 - 900000
  size_t max_buffer_records = 500;      // 1 - 500
  size_t max_buffer_bytes = 5242880;    // 1 - 5 MiB
  int64_t min_poll_ms = 100;            // minTimeBetweenFilePollsMillis
  int64_t max_refresh_ms = 10000;       // maxTimeBetweenFileTrackerRefreshMillis
  std::string multiline_start_pattern;  // empty: one record per line
  int64_t skip_header_lines = 0;
  std::string truncated_record_terminator = "\n";
  std::string file_footer_pattern;  // empty: none
  // Batches written but not yet durable before reading pauses (the Kinesis
  // Agent's queue of buffers waiting to be sent); bounds repeats after a crash.
  size_t publish_queue_capacity = 100;
  std::vector<ProcessingOption> processing;

  // "kinesis:<stream>:<filePattern>", the key of its checkpoints.
  std::string Id() const { return "kinesis:" + stream + ":" + file_pattern; }
};

struct AgentConfig {
  std::string checkpoint_file;  // empty: the default (see DefaultCheckpointFile)
  int64_t checkpoint_ttl_days = 7;
  int64_t shutdown_timeout_ms = 10000;
  int64_t status_period_ms = 30000;  // log.statusReportingPeriodSeconds
  std::vector<FlowConfig> flows;
};

// Parses agent.json text. Warnings and notices (unknown keys, ignored AWS
// keys) are appended to `notices`; an invalid value is an error naming its
// key path.
Result<AgentConfig> ParseAgentConfig(std::string_view json, std::vector<std::string>& notices);

// Checks what can only be checked as a whole (the stream name, the glob, that
// regexes compile and field counts fit); used for flows built from flags too.
// `path` prefixes messages ("flows[0]" or "" for flags).
Status ValidateFlow(const FlowConfig& flow, const std::string& path);

// The checkpoint file used when the configuration names none:
// <store root>/agent/checkpoints.json.
std::string DefaultCheckpointFile(const std::string& store_root);

}  // namespace kstream::agent
