#include "cli/tool.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstring>
#include <iostream>

#include "aws/credentials.h"
#include "core/stop_flag.h"
#include "remote/remote_backend.h"
#include "store/local_lease_table.h"
#include "store/local_store.h"

namespace kstream::cli {

namespace {
StopFlag* g_stop_flag = nullptr;
int g_stop_pipe[2] = {-1, -1};
void OnStopSignal(int) {
  const int saved = errno;
  if (g_stop_flag) *g_stop_flag = true;
  if (g_stop_pipe[1] >= 0) (void)!::write(g_stop_pipe[1], "x", 1);
  errno = saved;
}
}  // namespace

int StopFd() {
  return g_stop_pipe[0];
}

std::string CommonOptions::StoreRoot() const {
  return home.empty() ? DefaultStoreRoot() : home;
}

void AddCommonOptions(CLI::App& app, CommonOptions& common, const std::string& tool) {
  app.add_option("--home", common.home,
                 "Store directory (default: $KSTREAM_HOME, else $XDG_DATA_HOME/kstream, "
                 "else ~/.local/share/kstream)")
      ->type_name("DIR");
  app.add_flag("-q,--quiet", common.quiet, "Print nothing on stderr but errors");
  app.add_flag("-v,--verbose", common.verbose, "Print a summary on stderr");
  app.set_version_flag("--version", tool + " " + KSTREAM_VERSION, "Print the version and exit");
}

void AddEndpointOption(CLI::App& app, CommonOptions& common) {
  app.add_option("--endpoint", common.endpoint,
                 "Use the stream at this Kinesis-compatible endpoint (kstream-serve, Amazon "
                 "Kinesis) instead of the local store; SigV4-signed with the usual AWS "
                 "credentials")
      ->envname("KSTREAM_ENDPOINT")
      ->type_name("URL")
      ->check([](const std::string& url) {
        auto e = remote::ParseEndpoint(url);
        return e.ok() ? std::string() : e.status().message();
      });
}

Result<std::unique_ptr<Backend>> OpenBackend(const CommonOptions& common,
                                             const remote::PutPolicy& put) {
  if (!common.remote())
    return std::unique_ptr<Backend>(
        std::make_unique<LocalStore>(Env::Default(), common.StoreRoot()));
  auto config = remote::ConfigureClient(common.endpoint, aws::ProcessEnv());
  if (!config.ok()) return config.status();
  config->put = put;
  return std::unique_ptr<Backend>(std::make_unique<remote::RemoteBackend>(std::move(*config)));
}

Result<std::unique_ptr<GroupStore>> OpenGroupStore(const CommonOptions& common, Backend& backend) {
  if (!common.remote())
    return std::unique_ptr<GroupStore>(
        std::make_unique<LocalGroupStore>(&static_cast<LocalStore&>(backend)));
  KS_ASSIGN_OR_RETURN(remote::Endpoint e, remote::ParseEndpoint(common.endpoint));
  return std::unique_ptr<GroupStore>(std::make_unique<LocalGroupStore>(
      Env::Default(), EndpointGroupsRoot(common.StoreRoot(), e.host, e.port)));
}

int Parse(CLI::App& app, int argc, char** argv, const std::string& tool) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitOk;
  } catch (const CLI::CallForVersion& v) {
    std::cout << v.what() << "\n";
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::cerr << tool << ": error: " << e.what() << "\n"
              << "Try '" << tool << " --help' for more information.\n";
    return kExitUsage;
  }
  return -1;
}

int Fail(const std::string& tool, const Status& status) {
  std::cerr << tool << ": error: " << status.message() << "\n";
  return kExitFailure;
}

int UsageError(const std::string& tool, const std::string& message) {
  std::cerr << tool << ": error: " << message << "\n"
            << "Try '" << tool << " --help' for more information.\n";
  return kExitUsage;
}

void InstallStopHandlers(StopFlag* flag) {
  g_stop_flag = flag;
  if (g_stop_pipe[0] < 0 && ::pipe2(g_stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    g_stop_pipe[0] = g_stop_pipe[1] = -1;  // signals still set the flag
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking read returns EINTR and sees the flag
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace kstream::cli
