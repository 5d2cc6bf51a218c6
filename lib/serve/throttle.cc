#include "serve/throttle.h"

namespace kstream::serve {

Throttle::Shard& Throttle::At(const std::string& stream, uint64_t shard) {
  return shards_[{stream, shard}];
}

bool Throttle::AdmitWrite(const std::string& stream, uint64_t shard, uint64_t bytes,
                          int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  Shard& s = At(stream, shard);
  s.write_bytes.Refill(limits_.write_bytes_per_s, now_ms);
  s.write_records.Refill(limits_.write_records_per_s, now_ms);
  if (s.write_records.tokens < 1 || s.write_bytes.tokens < double(bytes)) return false;
  s.write_records.tokens -= 1;
  s.write_bytes.tokens -= double(bytes);
  return true;
}

bool Throttle::AdmitRead(const std::string& stream, uint64_t shard, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  Shard& s = At(stream, shard);
  s.read_calls.Refill(limits_.read_calls_per_s, now_ms);
  s.read_bytes.Refill(limits_.read_bytes_per_s, now_ms);
  if (s.read_calls.tokens < 1 || s.read_bytes.tokens <= 0) return false;
  s.read_calls.tokens -= 1;
  return true;
}

void Throttle::ChargeRead(const std::string& stream, uint64_t shard, uint64_t bytes,
                          int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  Shard& s = At(stream, shard);
  s.read_bytes.Refill(limits_.read_bytes_per_s, now_ms);
  s.read_bytes.tokens -= double(bytes);
}

}  // namespace kstream::serve
