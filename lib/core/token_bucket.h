// A token bucket refilled at `rate` tokens per second and holding at most one
// second's worth, the shape of Kinesis' per-shard limits (kstream-serve
// --enforce-limits) and of the KPL's per-shard rate limiter (kstream-put
// --rate-limit). A new bucket starts full. Not thread-safe.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace kstream {

struct TokenBucket {
  double tokens = 0;
  int64_t last_ms = -1;

  void Refill(double rate, int64_t now_ms) {
    if (last_ms < 0) {
      tokens = rate;
    } else if (now_ms > last_ms) {
      tokens = std::min(rate, tokens + rate * double(now_ms - last_ms) / 1000.0);
    }
    last_ms = std::max(last_ms, now_ms);
  }
  // Milliseconds from the last refill until `n` tokens are there (n is
  // capped at the bucket's size, so a large request waits for a full bucket).
  int64_t MillisUntil(double rate, double n) const {
    const double missing = std::min(n, rate) - tokens;
    return missing <= 0 ? 0 : int64_t(std::ceil(missing * 1000.0 / rate));
  }
};

}  // namespace kstream
