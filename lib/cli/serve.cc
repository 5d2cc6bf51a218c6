#include "cli/serve.h"

#include <iostream>

#include "core/env.h"
#include "serve/http_server.h"
#include "serve/service.h"
#include "store/local_store.h"

namespace kstream::cli {

void AddServeOptions(CLI::App& app, ServeCommand& c) {
  app.add_option("-l,--listen", c.listen,
                 "Address to listen on, HOST:PORT (default 127.0.0.1:4567; port 0 picks a free "
                 "one)")
      ->type_name("ADDR");
  app.add_option(
         "-t,--threads", c.threads,
         "Connections served at once (each open keep-alive or HTTP/2 connection holds one until "
         "5 s idle), and requests of HTTP/2 connections answered at once (default 64)")
      ->type_name("N")
      ->check(CLI::Range(1, 1024));
  app.add_option("--access-log", c.access_log,
                 "Append one line per request to FILE ('-' for stderr)")
      ->type_name("FILE");
  app.add_flag("--enforce-limits", c.enforce_limits,
               "Answer ProvisionedThroughputExceededException past the per-shard limits "
               "(write 1 MiB/s and 1000 records/s, read 2 MiB/s and 5 calls/s)");
  app.add_option("--sync", c.sync,
                 "Durability before a put is answered: always, batch (default: one fsync per "
                 "request and shard) or never")
      ->type_name("MODE");
  app.add_option("--region", c.region, "Region named in stream ARNs (default us-east-1)")
      ->type_name("REGION");
  app.add_option("--require-auth", c.require_auth,
                 "Verify SigV4 signatures against the keys of FILE (an AWS credentials file: "
                 "[section]s with aws_access_key_id and aws_secret_access_key); without it any "
                 "signature is accepted")
      ->type_name("FILE");
}

int RunServe(const ServeCommand& c, const CommonOptions& common, const std::string& tool) {
  serve::ServerOptions server;
  if (Status s = serve::ParseListenAddress(c.listen, server.host, server.port); !s.ok())
    return UsageError(tool, s.message());
  auto sync = ParseSyncMode(c.sync);
  if (!sync.ok()) return UsageError(tool, sync.status().message());
  server.threads = c.threads;
  server.access_log = c.access_log;
  serve::KeyRing keys;
  if (!c.require_auth.empty()) {
    auto loaded = serve::KeyRing::Load(c.require_auth);
    if (!loaded.ok()) return Fail(tool, loaded.status());
    keys = std::move(loaded).value();
    server.keys = &keys;
  }

  LocalStore store(Env::Default(), common.StoreRoot());
  serve::ServiceOptions options;
  options.region = c.region;
  options.sync = *sync;
  options.enforce_limits = c.enforce_limits;
  serve::Service service(&store, options);
  Status s = serve::RunServer(service, server, StopFd(), [&](const std::string& host, int port) {
    if (!common.quiet)
      std::cerr << tool << ": listening on http://"
                << (host.find(':') != std::string::npos ? "[" + host + "]" : host) << ":" << port
                << " (store " << store.root() << ")" << std::endl;
  });
  if (!s.ok()) return Fail(tool, s);
  if (common.verbose) std::cerr << tool << ": stopped" << std::endl;
  return kExitOk;
}

}  // namespace kstream::cli
