// kstream-deliver: a stream into compressed batch files under time-based
// prefixes, exactly once (the Kinesis Firehose role, to a local directory).
#include "cli/deliver.h"
#include "cli/tool.h"
#include "core/stop_flag.h"

using namespace kstream;

namespace {

constexpr char kTool[] = "kstream-deliver";
constexpr char kExamples[] = R"(Examples:
  kstream-deliver logs --to archive/                       # files under archive/YYYY/MM/DD/HH/
  kstream-deliver logs --to archive/ --compress zstd --buffer-interval 60s
  kstream-deliver logs --to archive/ --until-caught-up --stats   # in cron: deliver, exit
  kstream-deliver logs --to archive/ --endpoint https://kinesis.eu-west-1.amazonaws.com
  kstream-deliver clicks --to lake/ --compress gzip --json --buffer-size 64MiB
  kstream-deliver orders --to lake/ --prefix 'customer=!{field:customer_id}/!{timestamp:yyyy/MM/dd}/'
  zstd -dc archive/2024/05/01/12/*.zst | wc -l              # read the files back

Several instances with the same --to (or --name) share the shards, and a
restart resumes: every record lands in exactly one file. Records whose
--prefix field is missing go under errors/partitioning-failed/ with the reason;
records that would make more than --max-partitions prefixes active at once
(Firehose's limit, 500) go under errors/activePartitionExceeded/.
)";

StopFlag g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Deliver a stream into compressed batch files, exactly once.", kTool};
  app.footer(kExamples);
  cli::CommonOptions common;
  cli::AddCommonOptions(app, common, kTool);
  cli::AddEndpointOption(app, common);
  cli::DeliverCommand c;
  cli::AddDeliverOptions(app, c);
  if (int rc = cli::Parse(app, argc, argv, kTool); rc >= 0) return rc;
  cli::InstallStopHandlers(&g_stop);
  return cli::RunDeliver(app, c, common, kTool, &g_stop);
}
