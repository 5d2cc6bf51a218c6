// kstream: stream administration (create, list, describe, delete, retention)
// and git-style dispatch: `kstream put ...` runs `kstream-put ...`.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>

#include "cli/admin.h"
#include "cli/tool.h"
#include "core/text.h"
#include "store/local_lease_table.h"
#include "store/local_store.h"

using namespace kstream;

namespace {

constexpr char kTool[] = "kstream";
constexpr char kExamples[] = R"(Examples:
  kstream create logs --shards 4
  kstream list
  kstream --endpoint http://127.0.0.1:4567 list   # streams of a kstream-serve (or KSTREAM_ENDPOINT)
  kstream describe logs --json
  kstream retention logs 48
  kstream delete logs
  kstream groups logs                # consumer groups (kstream-get --group)
  kstream group logs indexer         # owners, checkpoints and lag per shard
  kstream group logs indexer --reset --iterator LATEST
  kstream put logs < lines.txt      # runs kstream-put
  kstream get logs --follow         # runs kstream-get
)";

// Runs kstream-<command> from beside this binary, else from PATH.
int Dispatch(const std::string& command, int argc, char** argv) {
  const std::string name = std::string("kstream-") + command;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::vector<char*> args;
  args.push_back(const_cast<char*>(name.c_str()));
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  if (!ec) {
    const std::string beside = (self.parent_path() / name).string();
    if (access(beside.c_str(), X_OK) == 0) execv(beside.c_str(), args.data());
  }
  execvp(name.c_str(), args.data());
  std::cerr << kTool << ": '" << command << "' is not a kstream command (no " << name
            << " found). See 'kstream --help'.\n";
  return cli::kExitUsage;
}

bool IsBuiltin(const std::string& c) {
  return c == "create" || c == "list" || c == "describe" || c == "delete" || c == "retention" ||
         c == "groups" || c == "group" || c == "help";
}

}  // namespace

int main(int argc, char** argv) {
  // Dispatch before parsing: the other tool owns the rest of the arguments.
  // Common options before the command (kstream --home DIR put ..., kstream
  // --endpoint URL get ...) go with it.
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--home" || arg == "--endpoint") {
      ++i;
      continue;
    }
    if (!arg.empty() && arg[0] == '-') continue;
    if (IsBuiltin(argv[i])) break;
    std::vector<char*> args = {argv[0], argv[i]};
    for (int j = 1; j < argc; ++j)
      if (j != i) args.push_back(argv[j]);
    return Dispatch(argv[i], int(args.size()), args.data());
  }

  CLI::App app{"Manage kstream streams. Other tools: kstream put, kstream get, ...", kTool};
  app.footer(kExamples);
  app.require_subcommand(1);
  app.fallthrough();  // --home, -q and -v also after the command
  cli::CommonOptions common;
  cli::AddCommonOptions(app, common, kTool);
  cli::AddEndpointOption(app, common);
  cli::AdminOptions a;

  auto* create = app.add_subcommand("create", "Create a stream");
  create->add_option("name", a.name, "Stream name")->required();
  create->add_option("--shards", a.shards, "Number of shards")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  create->add_option("--retention", a.retention_hours, "Retention period in hours (24-8760)")
      ->check(CLI::Range(24, 8760))
      ->capture_default_str();

  auto* list = app.add_subcommand("list", "List streams");
  list->add_flag("--json", a.json, "Print {\"StreamNames\": [...]}");

  auto* describe = app.add_subcommand("describe", "Show a stream's shards and figures");
  describe->add_option("name", a.name, "Stream name")->required();
  describe->add_flag("--json", a.json, "Print the shape of aws kinesis describe-stream");

  auto* del = app.add_subcommand("delete", "Delete a stream and all its records");
  del->add_option("name", a.name, "Stream name")->required();

  auto* retention = app.add_subcommand("retention", "Set a stream's retention period");
  retention->add_option("name", a.name, "Stream name")->required();
  retention->add_option("hours", a.retention_hours, "Hours (24-8760)")
      ->required()
      ->check(CLI::Range(24, 8760));

  cli::GroupAdminOptions g;
  auto* groups = app.add_subcommand("groups", "List a stream's consumer groups");
  groups->add_option("stream", g.stream, "Stream name")->required();
  groups->add_flag("--json", g.json, "Print {\"Groups\": [...]}");

  auto* group = app.add_subcommand(
      "group", "Show a consumer group's leases, checkpoints and lag; reset or delete it");
  group->add_option("stream", g.stream, "Stream name")->required();
  group->add_option("group", g.group, "Group name (kstream-get --group)")->required();
  group->add_flag("--json", g.json, "Print JSON");
  group->add_flag("--reset", g.reset, "Start the group over at --iterator (no live workers)");
  group->add_flag("--delete", g.del, "Delete the group's leases and checkpoints (no live workers)");
  group
      ->add_option("-i,--iterator", g.iterator,
                   "--reset: TRIM_HORIZON (default), LATEST or AT_TIMESTAMP")
      ->type_name("TYPE");
  group->add_option("--timestamp", g.timestamp, "--reset --iterator AT_TIMESTAMP: the time")
      ->type_name("TIME");

  std::string help_topic;
  auto* help = app.add_subcommand("help", "Show help for a command");
  help->add_option("command", help_topic, "Command");

  if (int rc = cli::Parse(app, argc, argv, kTool); rc >= 0) return rc;
  if (help->parsed()) {
    if (help_topic.empty()) {
      std::cout << app.help();
      return cli::kExitOk;
    }
    if (IsBuiltin(help_topic)) {
      std::cout << app.get_subcommand(help_topic)->help();
      return cli::kExitOk;
    }
    char flag[] = "--help";
    char* args[] = {argv[0], help_topic.data(), flag, nullptr};
    return Dispatch(help_topic, 3, args);
  }

  // Every command with a NAME argument: an invalid one (even "") is a usage error.
  if (create->parsed() || describe->parsed() || del->parsed() || retention->parsed())
    if (Status s = ValidateStreamName(a.name); !s.ok()) return cli::UsageError(kTool, s.message());
  if (groups->parsed() || group->parsed())
    if (Status s = cli::CheckGroupAdmin(g); !s.ok()) return cli::UsageError(kTool, s.message());
  Status s;
  auto backend = cli::OpenBackend(common);
  if (!backend.ok()) return cli::Fail(kTool, backend.status());
  Backend& b = **backend;
  if (groups->parsed() || group->parsed()) {
    auto group_store = cli::OpenGroupStore(common, b);
    if (!group_store.ok()) return cli::Fail(kTool, group_store.status());
    if (groups->parsed())
      s = cli::ListGroups(**group_store, g);
    else
      s = cli::GroupCommand(b, **group_store, g, Env::Default()->NowMillis(), common.quiet);
    if (!s.ok()) return cli::Fail(kTool, s);
    return cli::kExitOk;
  }
  if (create->parsed())
    s = cli::CreateStream(b, a, common.quiet);
  else if (list->parsed())
    s = cli::ListStreams(b, a);
  else if (describe->parsed())
    s = cli::DescribeStream(b, a);
  else if (del->parsed())
    s = cli::DeleteStream(b, a, common.quiet);
  else if (retention->parsed())
    s = cli::SetRetention(b, a, common.quiet);
  if (!s.ok()) return cli::Fail(kTool, s);
  return cli::kExitOk;
}
