// kstream-serve: the Kinesis HTTP API (JSON 1.1 and CBOR) over the store, so
// the AWS CLI, boto3, the AWS SDKs and the KCL work against it.
#include "cli/serve.h"
#include "cli/tool.h"
#include "core/stop_flag.h"

using namespace kstream;

namespace {

constexpr char kTool[] = "kstream-serve";
constexpr char kExamples[] = R"(Examples:
  kstream-serve                                    # http://127.0.0.1:4567, store in $KSTREAM_HOME
  kstream-serve --listen 127.0.0.1:0 --access-log -
  kstream-serve --enforce-limits --threads 32      # throttle like a provisioned stream
  kstream-serve --require-auth ~/.aws/credentials  # only requests signed with these keys

  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url http://127.0.0.1:4567 kinesis create-stream --stream-name logs --shard-count 2
  aws --endpoint-url http://127.0.0.1:4567 kinesis put-record --stream-name logs \
      --partition-key k --data aGVsbG8=
  kstream-get logs                                 # the same store, directly

Without --require-auth any request signature is accepted (as local emulators
do). HTTP/1.1 and HTTP/2 with prior knowledge (h2c, the JavaScript SDK v3's
default) are served on the same port.
)";

StopFlag g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Serve the store over the Amazon Kinesis HTTP API (JSON and CBOR).", kTool};
  app.footer(kExamples);
  cli::CommonOptions common;
  cli::AddCommonOptions(app, common, kTool);
  cli::ServeCommand c;
  cli::AddServeOptions(app, c);
  if (int rc = cli::Parse(app, argc, argv, kTool); rc >= 0) return rc;
  cli::InstallStopHandlers(&g_stop);
  return cli::RunServe(c, common, kTool);
}
