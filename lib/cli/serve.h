// The work of kstream-serve: its flags and running the Kinesis API server
// over the local store until SIGINT/SIGTERM.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "cli/tool.h"

namespace kstream::cli {

struct ServeCommand {
  std::string listen = "127.0.0.1:4567";
  int threads = 64;
  std::string access_log;
  bool enforce_limits = false;
  std::string sync = "batch";
  std::string region = "us-east-1";
  std::string require_auth;  // an AWS credentials file; empty: any signature is accepted
};

// Adds kstream-serve's own flags (not the common ones) to app, bound to c.
void AddServeOptions(CLI::App& app, ServeCommand& c);

// Serves until a stop signal (InstallStopHandlers must have run); returns
// the exit status.
int RunServe(const ServeCommand& c, const CommonOptions& common, const std::string& tool);

}  // namespace kstream::cli
