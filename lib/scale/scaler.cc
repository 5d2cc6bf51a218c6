#include "scale/scaler.h"

#include <algorithm>
#include <cstdio>

#include "core/text.h"

namespace kstream {

Status ExecuteOps(Backend& backend, const std::string& stream, std::vector<ReshardOp>& ops,
                  const std::function<void(const ReshardOp&)>& on_done) {
  for (auto& op : ops) {
    KS_ASSIGN_OR_RETURN(StreamMeta meta, backend.ListShards(stream));
    // Predict the ids on the current map; the store assigns them the same way.
    KS_RETURN_IF_ERROR(SimulateOp(meta, op).Prefixed("the stream changed under the plan"));
    if (op.kind == ReshardOp::Kind::kSplit)
      KS_RETURN_IF_ERROR(backend.SplitShard(stream, op.shard, op.key));
    else
      KS_RETURN_IF_ERROR(backend.MergeShards(stream, op.shard, op.other));
    if (on_done) on_done(op);
  }
  return Status::Ok();
}

namespace {

struct Tally {
  uint64_t records = 0;
  uint64_t bytes = 0;
};

// Counts one shard's records arriving in [from, to), stopping once `cap`
// records or bytes are exceeded (the sample is saturated either way).
Result<Tally> CountShard(Backend& backend, const std::string& stream, uint64_t shard, int64_t from,
                         int64_t to, const Tally& cap) {
  StartPosition start;
  start.type = IteratorType::kAtTimestamp;
  start.timestamp_ms = from;
  KS_ASSIGN_OR_RETURN(auto cursor, backend.OpenCursor(stream, shard, start));
  Tally t;
  RecordBatch batch;
  for (;;) {
    batch.Clear();
    KS_ASSIGN_OR_RETURN(auto state, cursor->Read(batch, 4096, 1 << 20));
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto r = batch[i];
      if (r.arrival_ms >= to) return t;
      t.records++;
      t.bytes += r.data.size() + r.partition_key.size();
    }
    if (t.records > cap.records || t.bytes > cap.bytes) return t;
    if (state != ShardCursor::State::kMore) return t;
  }
}

std::string Percent(double v) {
  char b[32];
  snprintf(b, sizeof(b), "%.0f%%", v);
  return b;
}

}  // namespace

Result<Decision> DecideAutoscale(Backend& backend, const std::string& stream,
                                 const AutoscaleOptions& o, int64_t now) {
  KS_ASSIGN_OR_RETURN(StreamMeta meta, backend.ListShards(stream));
  Decision d;
  d.open = int(meta.OpenShards().size());
  d.target = d.open;
  // Right after a reshard, the new shards have not been judged on load yet.
  int64_t last_reshard = 0;
  for (const auto& s : meta.shards) last_reshard = std::max(last_reshard, s.closed_ms.value_or(0));
  if (last_reshard && now - last_reshard < o.cool_off_ms) {
    d.reason = std::to_string(d.open) + " open shards; cooling off for " +
               std::to_string((o.cool_off_ms - (now - last_reshard)) / 1000) +
               " s more after the last reshard: no change";
    return d;
  }
  const double sample_s = double(o.sample_ms) / 1000;
  const double cap_records = d.open * kShardRecordsPerSecond;
  const double cap_bytes = d.open * kShardBytesPerSecond;
  const int samples = int(std::max<int64_t>(1, o.period_ms / o.sample_ms));
  // Per sample and shard, reading stops past twice the stream's capacity.
  const Tally cap{uint64_t(2 * cap_records * sample_s) + 1, uint64_t(2 * cap_bytes * sample_s) + 1};
  for (int k = 0; k < samples; ++k) {
    LoadSample s;
    s.start_ms = now - int64_t(samples - k) * o.sample_ms;
    if (s.start_ms < meta.created_ms) continue;  // the stream did not exist yet
    Tally total;
    for (const auto& shard : meta.shards) {
      if (shard.closed_ms && *shard.closed_ms < s.start_ms) continue;  // closed before
      KS_ASSIGN_OR_RETURN(Tally t, CountShard(backend, stream, shard.index, s.start_ms,
                                              s.start_ms + o.sample_ms, cap));
      total.records += t.records;
      total.bytes += t.bytes;
      s.saturated = s.saturated || t.records > cap.records || t.bytes > cap.bytes;
    }
    s.records_per_s = double(total.records) / sample_s;
    s.bytes_per_s = double(total.bytes) / sample_s;
    s.utilisation_pct = 100 * std::max(s.records_per_s / cap_records, s.bytes_per_s / cap_bytes);
    d.samples.push_back(s);
  }

  if (int(d.samples.size()) < samples) {
    d.reason = std::to_string(d.open) + " open shards; the stream is younger than the " +
               std::to_string(o.period_ms / 1000) + " s window judged: no change yet";
    return d;
  }
  std::string load = "utilisation per " + std::to_string(o.sample_ms / 1000) + " s sample:";
  bool all_high = true, all_low = true;
  for (const auto& s : d.samples) {
    // A saturated sample stopped counting early: its figure is a lower bound.
    load += " " + std::string(s.saturated ? ">=" : "") + Percent(s.utilisation_pct);
    all_high = all_high && s.utilisation_pct >= o.up_threshold_pct;
    all_low = all_low && s.utilisation_pct <= o.down_threshold_pct;
  }
  const auto& last = d.samples.back();
  char rates[160];
  snprintf(rates, sizeof(rates), "%d open shards; last sample %s%.0f records/s, %.2f MiB/s; ",
           d.open, last.saturated ? ">=" : "", last.records_per_s,
           last.bytes_per_s / (1024 * 1024));
  d.reason = rates + load;

  if (all_high && d.open < o.max_shards) {
    KS_ASSIGN_OR_RETURN(int t, ScaleTarget(d.open, ScaleDirection::kUp, o.up_count, o.up_pct));
    d.target = std::min(t, o.max_shards);
    d.action = Decision::Action::kUp;
    d.reason +=
        " (all >= " + Percent(o.up_threshold_pct) + "): scale up to " + std::to_string(d.target);
  } else if (all_low && d.open > o.min_shards) {
    KS_ASSIGN_OR_RETURN(int t,
                        ScaleTarget(d.open, ScaleDirection::kDown, o.down_count, o.down_pct));
    d.target = std::max(t, o.min_shards);
    d.action = Decision::Action::kDown;
    d.reason += " (all <= " + Percent(o.down_threshold_pct) + "): scale down to " +
                std::to_string(d.target);
  } else if (all_high) {
    d.reason += ": no change (already at --max-shards " + std::to_string(o.max_shards) + ")";
  } else if (all_low) {
    d.reason += ": no change (already at --min-shards " + std::to_string(o.min_shards) + ")";
  } else {
    d.reason += ": no change (up when every sample is at or above " + Percent(o.up_threshold_pct) +
                ", down when every one is at or below " + Percent(o.down_threshold_pct) + ")";
  }
  return d;
}

}  // namespace kstream
