// What every kstream tool's main shares: the store location, error messages
// and exit codes, signal handling, and CLI11 parsing with usage exit code 2.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "consume/lease.h"
#include "core/status.h"
#include "core/stop_flag.h"
#include "remote/kinesis_client.h"
#include "store/backend.h"

namespace kstream::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Options every tool has.
struct CommonOptions {
  std::string home;  // --home; empty: DefaultStoreRoot()
  bool quiet = false;
  bool verbose = false;
  std::string endpoint;  // --endpoint / $KSTREAM_ENDPOINT; empty: the local store
  std::string StoreRoot() const;
  bool remote() const { return !endpoint.empty(); }
};

// Adds --home, --quiet, --verbose and --version to app.
void AddCommonOptions(CLI::App& app, CommonOptions& common, const std::string& tool);

// Adds --endpoint URL (default $KSTREAM_ENDPOINT), for tools that can work on
// a stream served by a Kinesis-compatible endpoint.
void AddEndpointOption(CLI::App& app, CommonOptions& common);

// The backend the options name: the endpoint's (SigV4 credentials and region
// from the usual AWS sources; writers follow `put`) or the local store.
Result<std::unique_ptr<Backend>> OpenBackend(const CommonOptions& common,
                                             const remote::PutPolicy& put = {});

// The consumer groups of the streams `backend` (opened from `common`) holds:
// beside each stream in the local store, or, for an endpoint's streams, in
// the local store's directory for that endpoint (see LocalGroupStore).
Result<std::unique_ptr<GroupStore>> OpenGroupStore(const CommonOptions& common, Backend& backend);

// Parses argv. Returns -1 to go on, or the exit code to return (0 after
// --help/--version, 2 after a usage error, with a short hint on stderr).
int Parse(CLI::App& app, int argc, char** argv, const std::string& tool);

// "tool: error: message" on stderr; returns the exit code for status.
int Fail(const std::string& tool, const Status& status);
// A usage error found after parsing (conflicting flags): message, exit 2.
int UsageError(const std::string& tool, const std::string& message);

// SIGINT and SIGTERM set *flag and make StopFd() readable (a self-pipe, so a
// tool blocked in poll(2) wakes up); SIGPIPE is ignored so a closed stdout
// shows up as EPIPE and ends a reader quietly.
void InstallStopHandlers(StopFlag* flag);
int StopFd();

}  // namespace kstream::cli
