// The producer loop of kstream-put: records from a RecordReader, partition
// keys chosen per the options, batched into a StreamWriter with a linger that
// keeps latency low while input trickles and batches big while it floods.
// Results are reported only once the chosen durability is met.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/stop_flag.h"
#include "io/json_input.h"
#include "io/record_reader.h"
#include "io/record_writer.h"
#include "produce/aggregation.h"
#include "store/backend.h"

namespace kstream {

enum class KeySource { kRandom, kFixed, kField, kJsonEntry };

// Latencies in milliseconds, exact to 10 s, and their percentiles.
class LatencyHistogram {
 public:
  void Add(int64_t ms);
  uint64_t count() const { return count_; }
  // The smallest latency at or above fraction p of the samples (0 if none).
  int64_t Percentile(double p) const;
  int64_t max() const { return max_; }

 private:
  std::vector<uint64_t> buckets_;  // by millisecond, the last one for 10 s and more
  uint64_t count_ = 0;
  int64_t max_ = 0;
};

struct FailedRecord {
  uint64_t line = 0;
  std::string_view error;
  std::optional<std::string_view> partition_key;  // absent: `data` is the raw line
  std::optional<uint128> explicit_hash_key;
  std::string_view data;
};

struct ProducerStats {
  uint64_t records = 0;          // user records written and reported
  uint64_t bytes = 0;            // data bytes of those records
  uint64_t kinesis_records = 0;  // Kinesis records they were written as (aggregates count once)
  uint64_t skipped = 0;          // invalid lines skipped (--skip-invalid)
  uint64_t failed = 0;           // accepted records not written (a write error)
  std::string first_skip_reason;
  LatencyHistogram latency;  // accepted to reported, per user record
};

struct ProducerOptions {
  KeySource key_source = KeySource::kRandom;
  std::string fixed_key;               // kFixed
  std::optional<FieldPath> key_field;  // kField
  std::optional<uint128> explicit_hash_key;
  SyncMode sync = SyncMode::kBatch;
  int64_t linger_ms = 0;  // 0: write whenever the input pauses
  // Most Kinesis records and bytes per write (with aggregation, an aggregate
  // is one record).
  size_t batch_records = 10000;
  size_t batch_bytes = 4 << 20;
  // --aggregate: KPL aggregated records, grouped by the shard predicted from
  // list_shards (read again whenever a prediction misses).
  bool aggregate = false;
  AggregationLimits aggregation;
  std::function<Result<StreamMeta>()> list_shards;
  int64_t sync_interval_ms = 200;  // kBatch: a sync starts at least this often under load
  bool print_results = false;
  bool skip_invalid = false;
  std::function<void(const ProducerStats&)> on_progress;  // after each write
  // Each record that is not written (skipped as invalid, or lost to a write
  // error): its line number, the error, and the record (raw line, or key and
  // data once parsed).
  std::function<void(const FailedRecord&)> on_failed;
};

// Runs until the end of input or the first invalid record (unless skipping).
// Everything accepted before an error is written, synced and reported first.
// `results` receives --print lines; `stop` is polled between batches (SIGTERM).
Status RunProducer(StreamWriter& writer, RecordReader& input, const ProducerOptions& options,
                   RecordWriter& results, ProducerStats& stats, Env* env, const StopFlag* stop);

// One line of --failed: {"Line","Error"[,"PartitionKey"[,"ExplicitHashKey"]],
// "Data"(base64)}, so a parsed record can be put again with kstream-put --json.
void AppendFailedRecord(std::string& out, const FailedRecord& f);

// --stats: {"UserRecords","KinesisRecords","AggregationRatio","Bytes",
// "Skipped","Failed","Retries","Throttles","LatencyMs":{p50,p90,p99,max}}.
// retries and throttles come from a backend that retries (0 locally).
void AppendProducerStats(std::string& out, const ProducerStats& s, uint64_t retries,
                         uint64_t throttles);

// Checks a record against the Kinesis limits: key of 1-256 characters, key
// plus data at most 1 MiB.
Status CheckRecordLimits(std::string_view partition_key, size_t data_size);

}  // namespace kstream
