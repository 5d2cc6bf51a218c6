#include "cli/scale.h"

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/admin.h"
#include "core/env.h"
#include "core/stop_flag.h"
#include "core/text.h"

namespace kstream::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::string OpsJson(const std::vector<ReshardOp>& ops) {
  std::string j = "[";
  for (size_t i = 0; i < ops.size(); ++i) {
    const auto& op = ops[i];
    if (i) j += ',';
    if (op.kind == ReshardOp::Kind::kSplit) {
      j += "{\"Action\":\"SplitShard\",\"ShardToSplit\":\"" + ShardIdFor(op.shard) +
           "\",\"NewStartingHashKey\":\"" + ToDecimal(op.key) + "\"";
    } else {
      j += "{\"Action\":\"MergeShards\",\"ShardToMerge\":\"" + ShardIdFor(op.shard) +
           "\",\"AdjacentShardToMerge\":\"" + ShardIdFor(op.other) + "\"";
    }
    j += ",\"ChildShardIds\":[";
    for (size_t k = 0; k < op.children.size(); ++k)
      j += (k ? ",\"" : "\"") + ShardIdFor(op.children[k]) + "\"";
    j += "]}";
  }
  return j + "]";
}

std::string OpenShardsJson(const StreamMeta& m) {
  std::string j = "[";
  bool first = true;
  for (const ShardMeta* s : m.OpenShards()) {
    if (!first) j += ',';
    first = false;
    AppendShardJson(j, *s, /*close=*/true);
  }
  return j + "]";
}

// Plans (and unless dry-running, carries out) `ops`, then reports.
Status Apply(Backend& b, const ScaleCommand& c, const StreamMeta& before,
             std::vector<ReshardOp> ops) {
  const auto started = Clock::now();
  size_t splits = 0, merges = 0;
  for (const auto& op : ops) (op.kind == ReshardOp::Kind::kSplit ? splits : merges)++;
  if (c.dry_run) {
    if (!c.json)
      for (const auto& op : ops) std::cout << "would " << DescribeOp(op) << "\n";
  } else {
    KS_RETURN_IF_ERROR(ExecuteOps(b, c.stream, ops, [&](const ReshardOp& op) {
      if (c.verbose && !c.quiet) std::cerr << "kstream-scale: " << DescribeOp(op) << "\n";
    }));
  }
  StreamMeta after;
  if (c.dry_run) {
    after = before;
    for (auto& op : ops) (void)SimulateOp(after, op);
  } else {
    KS_ASSIGN_OR_RETURN(after, b.ListShards(c.stream));
  }
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (c.json) {
    std::string j = "{\"StreamName\":";
    AppendJsonString(j, c.stream);
    j += ",\"DryRun\":" + std::string(c.dry_run ? "true" : "false");
    j += ",\"Before\":" + OpenShardsJson(before) + ",\"After\":" + OpenShardsJson(after);
    j += ",\"Operations\":" + OpsJson(ops) + "}\n";
    std::cout << j << std::flush;
  } else if (!c.quiet) {
    char line[256];
    snprintf(line, sizeof(line), "%s: %zu -> %zu open shard%s (%zu split%s, %zu merge%s",
             c.stream.c_str(), before.OpenShards().size(), after.OpenShards().size(),
             after.OpenShards().size() == 1 ? "" : "s", splits, splits == 1 ? "" : "s", merges,
             merges == 1 ? "" : "s");
    std::cout << line;
    if (c.dry_run) {
      std::cout << "; dry run: nothing changed)\n";
    } else {
      snprintf(line, sizeof(line), " in %.0f ms)\n", ms);
      std::cout << line;
    }
    std::cout << std::flush;
  }
  return Status::Ok();
}

Status Resize(Backend& b, const ScaleCommand& c, int target) {
  KS_ASSIGN_OR_RETURN(StreamMeta before, b.ListShards(c.stream));
  return Apply(b, c, before, PlanUniformResize(before, target, nullptr));
}

Status Report(Backend& b, const ScaleCommand& c) {
  KS_ASSIGN_OR_RETURN(StreamMeta m, b.ListShards(c.stream));
  if (c.json) {
    std::cout << "{\"StreamName\":\"" << c.stream << "\",\"Shards\":" << OpenShardsJson(m) << "}\n";
    return Status::Ok();
  }
  const size_t n = m.OpenShards().size();
  std::cout << n << " open shard" << (n == 1 ? "" : "s") << " of '" << c.stream << "':\n";
  for (const ShardMeta* s : m.OpenShards()) {
    const double pct = 100.0 * double(s->end_hash - s->start_hash) / double(kMaxHashKey);
    char line[128];
    snprintf(line, sizeof(line), "%-22s %7.3f%%  ", s->id().c_str(), pct);
    std::cout << line << ToDecimal(s->start_hash) << " .. " << ToDecimal(s->end_hash) << "\n";
  }
  return Status::Ok();
}

Status Auto(Backend& b, const ScaleCommand& c, const StopFlag* stop) {
  const int64_t every = c.check_interval_ms ? c.check_interval_ms : c.autoscale.sample_ms;
  for (;;) {
    KS_ASSIGN_OR_RETURN(Decision d,
                        DecideAutoscale(b, c.stream, c.autoscale, Env::Default()->NowMillis()));
    if (!c.quiet) std::cerr << "kstream-scale: " << c.stream << ": " << d.reason << "\n";
    if (d.action != Decision::Action::kNone) KS_RETURN_IF_ERROR(Resize(b, c, d.target));
    if (c.once) return Status::Ok();
    for (auto until = Clock::now() + std::chrono::milliseconds(every);
         Clock::now() < until && !*stop;)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (*stop) return Status::Ok();
  }
}

}  // namespace

Status ValidateScaleCommand(ScaleCommand& c) {
  const std::string& a = c.action;
  if (c.min_shards < 1) return Status::InvalidArgument("--min-shards must be at least 1");
  if (c.min_shards > c.max_shards)
    return Status::InvalidArgument("--min-shards is larger than --max-shards");
  if (a == "up" || a == "down") {
    if (c.count.has_value() == c.pct.has_value())
      return Status::InvalidArgument(a + " needs exactly one of --count N and --pct P");
    if (c.count && *c.count < 1) return Status::InvalidArgument("--count must be at least 1");
    if (c.pct && !(*c.pct > 0)) return Status::InvalidArgument("--pct must be greater than 0");
    if (a == "down" && c.pct && *c.pct > 100)
      return Status::InvalidArgument("down --pct is at most 100");
  } else if (a == "resize") {
    if (c.target < 1) return Status::InvalidArgument("resize needs a shard count of at least 1");
    if (c.target > c.max_shards || c.target < c.min_shards)
      return Status::InvalidArgument("resize " + std::to_string(c.target) + " is outside [" +
                                     std::to_string(c.min_shards) + ", " +
                                     std::to_string(c.max_shards) + "]");
  } else if (a == "split") {
    if (c.shards.size() != 1) return Status::InvalidArgument("split needs one shard id");
  } else if (a == "merge") {
    if (c.shards.size() != 2) return Status::InvalidArgument("merge needs two shard ids");
  } else if (a == "auto") {
    auto& o = c.autoscale;
    o.min_shards = c.min_shards;
    o.max_shards = c.max_shards;
    if (o.sample_ms <= 0 || o.period_ms < o.sample_ms)
      return Status::InvalidArgument("--period must be at least one --sample");
    if (o.down_threshold_pct >= o.up_threshold_pct)
      return Status::InvalidArgument("--down-threshold must be below --up-threshold");
  } else if (a != "report") {
    return Status::InvalidArgument("unknown action '" + a +
                                   "' (use up, down, resize, split, merge, auto or report)");
  }
  return Status::Ok();
}

Status RunScaleCommand(Backend& b, const ScaleCommand& c, const StopFlag* stop) {
  const std::string& a = c.action;
  if (a == "report") return Report(b, c);
  if (a == "auto") return Auto(b, c, stop);
  if (a == "resize") return Resize(b, c, c.target);
  KS_ASSIGN_OR_RETURN(StreamMeta before, b.ListShards(c.stream));
  const int open = int(before.OpenShards().size());
  if (a == "up" || a == "down") {
    KS_ASSIGN_OR_RETURN(
        int target,
        ScaleTarget(open, a == "up" ? ScaleDirection::kUp : ScaleDirection::kDown, c.count, c.pct));
    // The limits bound the move; they never turn an up into a down.
    target = a == "up" ? std::max(open, std::min(target, c.max_shards))
                       : std::min(open, std::max(target, c.min_shards));
    return Apply(b, c, before, PlanUniformResize(before, target, nullptr));
  }
  std::vector<uint64_t> ids;
  for (const auto& s : c.shards) {
    KS_ASSIGN_OR_RETURN(uint64_t id, ParseShardId(s));
    const ShardMeta* m = before.FindShard(id);
    if (!m) return Status::NotFound("shard " + ShardIdFor(id) + " does not exist");
    if (!m->is_open())
      return Status::InvalidArgument("shard " + m->id() +
                                     " is closed: it has already been split or merged");
    ids.push_back(id);
  }
  ReshardOp op;
  const ShardMeta* first = before.FindShard(ids[0]);
  op.shard_start = first->start_hash;
  if (a == "split") {
    op.kind = ReshardOp::Kind::kSplit;
    // The middle of the range, as Kinesis's console suggests.
    const uint128 width = first->end_hash - first->start_hash;
    op.key = c.at.value_or(first->start_hash + width / 2 + (width % 2));
  } else {
    op.kind = ReshardOp::Kind::kMerge;
    op.key = before.FindShard(ids[1])->start_hash;
    // Merge names the lower shard first; accept either order from the user.
    if (op.key < op.shard_start) std::swap(op.key, op.shard_start);
    if (ids.size() == 2 && ids[0] == ids[1])
      return Status::InvalidArgument("cannot merge " + first->id() + " with itself");
  }
  StreamMeta check = before;
  KS_RETURN_IF_ERROR(SimulateOp(check, op));  // refuse bad requests before touching anything
  return Apply(b, c, before, {op});
}

}  // namespace kstream::cli
