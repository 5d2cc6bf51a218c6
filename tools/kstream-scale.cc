// kstream-scale: resharding and autoscaling (amazon-kinesis-scaling-utils,
// SplitShard / MergeShards / UpdateShardCount).
#include <iostream>

#include "cli/scale.h"
#include "cli/tool.h"
#include "core/stop_flag.h"
#include "core/text.h"
#include "store/local_store.h"

using namespace kstream;

namespace {

constexpr char kTool[] = "kstream-scale";
constexpr char kExamples[] = R"(Actions:
  up|down (--count N | --pct P)   grow by N shards or P percent (rounded up; --pct 100 doubles),
                                  shrink by N or P percent (rounded down, never below 1)
  resize N                        exactly N shards with equal hash ranges
  split SHARD [--at HASHKEY]      split one shard (default: the middle of its range)
  merge SHARD SHARD               merge two shards whose hash ranges touch
  auto                            scale from the measured write load (see --once, thresholds)
  report                          the open shards and their share of the hash space

Examples:
  kstream-scale logs split shardId-000000000000 --endpoint http://127.0.0.1:4567
  kstream-scale logs up --count 2                 # in cron or a deploy script
  kstream-scale logs down --pct 50 --min-shards 2
  kstream-scale logs resize 8 --dry-run
  kstream-scale logs split shardId-000000000000
  kstream-scale logs merge 4 5 --json
  kstream-scale logs auto --once                  # decide and act once, for cron
  kstream-scale logs --scaling-action scaleUp --count 2   # the scaling utility's spelling
)";

StopFlag g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Reshard a stream: split, merge, resize, scale up or down, or autoscale.", kTool};
  app.footer(kExamples);
  cli::CommonOptions common;
  cli::AddCommonOptions(app, common, kTool);
  cli::AddEndpointOption(app, common);
  cli::ScaleCommand c;
  std::string scaling_action, at, period = "5m", sample = "1m", cool_off = "5m", interval;
  std::vector<std::string> args;
  std::optional<int> up_count, down_count;
  std::optional<double> up_pct, down_pct;
  app.add_option("stream", c.stream, "Stream to reshard")->required();
  app.add_option("action", args, "Action and its arguments (see below)");
  app.add_option(
         "--scaling-action", scaling_action,
         "The scaling utility's spelling: scaleUp, scaleDown, resize (with --count), report")
      ->check(CLI::IsMember({"scaleUp", "scaleDown", "resize", "report"}));
  app.add_option("--count", c.count,
                 "Shards to add or remove (up, down; resize with --scaling-action)");
  app.add_option("--pct", c.pct, "Percent to grow or shrink by (up, down)");
  app.add_option("--min-shards", c.min_shards, "Never go below this many open shards")
      ->capture_default_str();
  app.add_option("--max-shards", c.max_shards, "Never go above this many open shards")
      ->capture_default_str();
  app.add_option("--at", at, "split: the new starting hash key (decimal)")->type_name("HASHKEY");
  app.add_flag("--dry-run", c.dry_run, "Print the plan; change nothing");
  app.add_flag("--json", c.json,
               "Print the shard map before and after, and the operations, as JSON");
  auto* g = app.add_option_group("auto", "Autoscaling (action auto)");
  g->add_flag("--once", c.once, "Decide and act once, then exit (for cron)");
  g->add_option("--period", period, "Window of load judged")->capture_default_str();
  g->add_option("--sample", sample, "Width of one sample in the window")->capture_default_str();
  g->add_option("--up-threshold", c.autoscale.up_threshold_pct,
                "Scale up when every sample is at or above this % of capacity")
      ->capture_default_str();
  g->add_option("--down-threshold", c.autoscale.down_threshold_pct,
                "Scale down when every sample is at or below this % of capacity")
      ->capture_default_str();
  g->add_option("--up-count", up_count, "Scale up by this many shards (default: --up-pct 100)");
  g->add_option("--up-pct", up_pct, "Scale up by this percent");
  g->add_option("--down-count", down_count,
                "Scale down by this many shards (default: --down-pct 50)");
  g->add_option("--down-pct", down_pct, "Scale down by this percent");
  g->add_option("--cool-off", cool_off, "Wait this long after any reshard")->capture_default_str();
  g->add_option("--interval", interval, "Time between checks (default: --sample)");
  if (int rc = cli::Parse(app, argc, argv, kTool); rc >= 0) return rc;
  if (Status s = ValidateStreamName(c.stream); !s.ok()) return cli::UsageError(kTool, s.message());

  // Map the scaling utility's spelling onto ours.
  if (!scaling_action.empty()) {
    if (!args.empty())
      return cli::UsageError(kTool, "give an action or --scaling-action, not both");
    if (scaling_action == "scaleUp") args = {"up"};
    if (scaling_action == "scaleDown") args = {"down"};
    if (scaling_action == "report") args = {"report"};
    if (scaling_action == "resize") {
      if (!c.count) return cli::UsageError(kTool, "--scaling-action resize needs --count N");
      args = {"resize", std::to_string(*c.count)};
      c.count.reset();
    }
  }
  if (args.empty())
    return cli::UsageError(kTool,
                           "an action is required (up, down, resize, split, merge, auto, report)");
  c.action = args[0];
  c.shards.assign(args.begin() + 1, args.end());
  if (c.action == "resize") {
    if (c.shards.size() != 1) return cli::UsageError(kTool, "resize needs one shard count");
    try {
      c.target = std::stoi(c.shards[0]);
    } catch (...) {
      return cli::UsageError(kTool, "resize: '" + c.shards[0] + "' is not a shard count");
    }
    c.shards.clear();
  } else if (c.action != "split" && c.action != "merge" && !c.shards.empty()) {
    return cli::UsageError(kTool, "unexpected argument '" + c.shards[0] + "'");
  }
  if (!at.empty()) {
    auto h = ParseDecimal128(at, "--at");
    if (!h.ok()) return cli::UsageError(kTool, h.status().message());
    c.at = *h;
  }
  for (auto [text, out] : {std::pair{&period, &c.autoscale.period_ms},
                           {&sample, &c.autoscale.sample_ms},
                           {&cool_off, &c.autoscale.cool_off_ms},
                           {&interval, &c.check_interval_ms}}) {
    if (text->empty()) continue;
    auto ms = ParseDuration(*text);
    if (!ms.ok()) return cli::UsageError(kTool, ms.status().message());
    *out = *ms;
  }
  if (up_count || up_pct) c.autoscale.up_count = up_count, c.autoscale.up_pct = up_pct;
  if (down_count || down_pct) c.autoscale.down_count = down_count, c.autoscale.down_pct = down_pct;
  c.quiet = common.quiet;
  c.verbose = common.verbose;
  if (Status s = cli::ValidateScaleCommand(c); !s.ok()) return cli::UsageError(kTool, s.message());

  cli::InstallStopHandlers(&g_stop);
  auto backend = cli::OpenBackend(common);
  if (!backend.ok()) return cli::Fail(kTool, backend.status());
  if (Status s = cli::RunScaleCommand(**backend, c, &g_stop); !s.ok()) return cli::Fail(kTool, s);
  return cli::kExitOk;
}
