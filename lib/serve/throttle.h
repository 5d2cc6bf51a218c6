// Per-shard throughput limits of a provisioned Kinesis stream, emulated on
// request (--enforce-limits) so producers' and consumers' backoff can be
// tested locally: writes 1 MiB/s and 1,000 records/s, reads 2 MiB/s and 5
// GetRecords calls/s. Token buckets holding one second's worth. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "core/token_bucket.h"

namespace kstream::serve {

class Throttle {
 public:
  struct Limits {
    double write_bytes_per_s = 1 << 20;
    double write_records_per_s = 1000;
    double read_bytes_per_s = 2 << 20;
    double read_calls_per_s = 5;
  };
  Throttle() = default;
  explicit Throttle(Limits limits) : limits_(limits) {}

  // One record of `bytes` (key + data) into a shard: true if within limits
  // (and then counted).
  bool AdmitWrite(const std::string& stream, uint64_t shard, uint64_t bytes, int64_t now_ms);
  // One GetRecords call: true if within the call rate and the shard has read
  // budget left. Counts the call; ChargeRead counts the bytes it returned (a
  // large read may overdraw the budget, delaying the next calls, as in Kinesis).
  bool AdmitRead(const std::string& stream, uint64_t shard, int64_t now_ms);
  void ChargeRead(const std::string& stream, uint64_t shard, uint64_t bytes, int64_t now_ms);

 private:
  using Bucket = TokenBucket;
  struct Shard {
    Bucket write_bytes, write_records, read_bytes, read_calls;
  };
  Shard& At(const std::string& stream, uint64_t shard);

  Limits limits_;
  std::mutex mu_;
  std::map<std::pair<std::string, uint64_t>, Shard> shards_;  // guarded by mu_
};

}  // namespace kstream::serve
