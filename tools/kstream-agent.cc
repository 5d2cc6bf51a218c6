// kstream-agent: tail log files into streams (the Kinesis Agent role).
#include "cli/agent.h"
#include "cli/tool.h"
#include "core/stop_flag.h"

using namespace kstream;

namespace {

constexpr char kTool[] = "kstream-agent";
constexpr char kExamples[] = R"(Examples:
  kstream-agent -c /etc/kstream/agent.json             # the Kinesis Agent's agent.json
  kstream-agent --file '/var/log/app/app.log*' --stream logs
  kstream-agent -c agent.json --endpoint https://kinesis.eu-west-1.amazonaws.com   # to Kinesis
  kstream-agent -f '/var/log/httpd/access_log*' -s web --format LOGTOJSON:COMBINEDAPACHELOG
  kstream-agent -f /var/log/app.log -s logs --multiline '^\d{4}-\d{2}-\d{2} ' --format SINGLELINE
  kstream-agent -f 'data/*.csv' -s sensors --format CSVTOJSON --fields id,temp,ts \
      --skip-header-lines 1 --initial-position START_OF_FILE --once --stats

Records are lines without their newline (a multi-line record keeps its inner
newlines). Checkpoints advance only past records that are durable in the
stream; SIGTERM or SIGINT flushes, checkpoints and exits 0.
)";

StopFlag g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tail log files into streams, across rotation and restarts (the Kinesis Agent).",
               kTool};
  app.footer(kExamples);
  cli::CommonOptions common;
  cli::AddCommonOptions(app, common, kTool);
  cli::AddEndpointOption(app, common);
  cli::AgentCommand c;
  cli::AddAgentOptions(app, c);
  if (int rc = cli::Parse(app, argc, argv, kTool); rc >= 0) return rc;
  cli::InstallStopHandlers(&g_stop);
  return cli::RunAgentCommand(app, c, common, kTool, &g_stop);
}
