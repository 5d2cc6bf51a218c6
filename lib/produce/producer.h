// The producer loop of kstream-put: records from a RecordReader, partition
// keys chosen per the options, batched into a StreamWriter with a linger that
// keeps latency low while input trickles and batches big while it floods.
// Results are reported only once the chosen durability is met.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/env.h"
#include "core/stop_flag.h"
#include "io/json_input.h"
#include "io/record_reader.h"
#include "io/record_writer.h"
#include "store/backend.h"

namespace kstream {

enum class KeySource { kRandom, kFixed, kField, kJsonEntry };

struct ProducerStats {
  uint64_t records = 0;  // written and reported
  uint64_t bytes = 0;    // data bytes of those records
  uint64_t skipped = 0;  // invalid lines skipped (--skip-invalid)
  std::string first_skip_reason;
};

struct ProducerOptions {
  KeySource key_source = KeySource::kRandom;
  std::string fixed_key;               // kFixed
  std::optional<FieldPath> key_field;  // kField
  std::optional<uint128> explicit_hash_key;
  SyncMode sync = SyncMode::kBatch;
  int64_t linger_ms = 0;  // 0: write whenever the input pauses
  size_t batch_records = 10000;
  size_t batch_bytes = 4 << 20;
  int64_t sync_interval_ms = 200;  // kBatch: a sync starts at least this often under load
  bool print_results = false;
  bool skip_invalid = false;
  std::function<void(const ProducerStats&)> on_progress;  // after each write
};

// Runs until the end of input or the first invalid record (unless skipping).
// Everything accepted before an error is written, synced and reported first.
// `results` receives --print lines; `stop` is polled between batches (SIGTERM).
Status RunProducer(StreamWriter& writer, RecordReader& input, const ProducerOptions& options,
                   RecordWriter& results, ProducerStats& stats, Env* env, const StopFlag* stop);

// Checks a record against the Kinesis limits: key of 1-256 characters, key
// plus data at most 1 MiB.
Status CheckRecordLimits(std::string_view partition_key, size_t data_size);

}  // namespace kstream
