// kstream-get: records from a stream to stdout (the consumer / KCL role), or
// as a worker of a consumer group, to stdout or a command per batch (--exec).
#include "cli/get.h"
#include "cli/tool.h"
#include "core/stop_flag.h"

using namespace kstream;

namespace {

constexpr char kTool[] = "kstream-get";
constexpr char kExamples[] = R"(Examples:
  kstream-get logs                                   # every record, then exit
  kstream-get logs --follow | grep ERROR             # like tail -f
  KSTREAM_ENDPOINT=http://127.0.0.1:4567 kstream-get logs -f   # from kstream-serve
  kstream-get logs --shard shardId-000000000003 -f --json
  kstream-get logs -i AT_TIMESTAMP --timestamp 2024-05-01T12:00:00Z -n 10
  kstream-get logs -i AFTER_SEQUENCE_NUMBER --sequence-number 18446744073709551620
  kstream-get logs --group indexer -f > part-$$.txt  # one of several workers sharing the shards
  kstream-get logs --group loader -f --exec 'psql -c "\copy t from stdin"' --batch-size 500
  kstream-get logs --group loader -f --exec ./load.sh --max-retries 5 --bisect-on-error \
      --on-failure failed.ndjson

--exec runs CMD with sh -c once per batch of one shard's records (on its stdin,
framed like the output) with KSTREAM_STREAM, KSTREAM_GROUP, KSTREAM_WORKER,
KSTREAM_SHARD_ID, KSTREAM_FIRST_SEQUENCE, KSTREAM_LAST_SEQUENCE,
KSTREAM_RECORD_COUNT and KSTREAM_ATTEMPT set. Exit status 0 checkpoints the batch.
)";

StopFlag g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Read records from a stream to standard output, one per line.", kTool};
  app.footer(kExamples);
  cli::CommonOptions common;
  cli::AddCommonOptions(app, common, kTool);
  cli::AddEndpointOption(app, common);
  cli::GetCommand c;
  cli::AddGetOptions(app, c);
  if (int rc = cli::Parse(app, argc, argv, kTool); rc >= 0) return rc;
  cli::InstallStopHandlers(&g_stop);
  return cli::RunGet(app, c, common, kTool, &g_stop);
}
