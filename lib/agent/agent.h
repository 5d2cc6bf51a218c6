// RunAgent: kstream-agent's loop. Each flow tails its files (Tailer), runs
// its converters, and puts records into its stream in batches
// (maxBufferSizeRecords / maxBufferSizeBytes / maxBufferAgeMillis). Batches
// are made durable by group commit (StreamWriter::BeginSync); a file's
// checkpoint advances only past records whose sync has completed, and the
// checkpoint file is rewritten atomically after each completed sync.
//
// Duplicates after a crash are bounded: a flow stops reading while
// publishQueueCapacity batches' worth of records are written but not yet
// durable, so at most that many records (publishQueueCapacity x
// maxBufferSizeRecords, 100 x 500 = 50,000 by default) can be sent again
// after kill -9.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/flow.h"
#include "agent/tailer.h"
#include "core/env.h"
#include "core/stop_flag.h"
#include "store/backend.h"

namespace kstream::agent {

struct AgentStats {
  std::vector<FlowStats> flows;
  uint64_t records_sent = 0, bytes_sent = 0;
};

// {"flows":[{"flow":..,"stream":..,"linesRead":..,"recordsSent":..,
// "bytesSent":..,"parseFailures":..,"truncatedRecords":..,"files":[{"path":..,
// "size":..,"offset":..,"bytesBehind":..,"rotated":false}]}]}
std::string StatsJson(const AgentStats& stats);

struct AgentOptions {
  bool once = false;            // read what is there now, then stop
  std::string checkpoint_file;  // resolved path
  const StopFlag* stop = nullptr;
  int stop_fd = -1;                                    // readable when *stop was set (may be -1)
  int64_t stats_interval_ms = 0;                       // >0: on_stats this often while running
  std::function<void(const std::string&)> log;         // notices, warnings
  std::function<void(const AgentStats&)> on_progress;  // after each sync
  std::function<void(const AgentStats&)> on_stats;     // periodic and at the end
};

// Runs until *stop (then flushes, syncs and checkpoints) or, with once, until
// every file is read. Fails when a stream is missing, a file cannot be read,
// the store fails, or another agent uses the same checkpoint file.
Status RunAgent(const AgentConfig& config, Backend& backend, const AgentOptions& options, Env* env);

}  // namespace kstream::agent
