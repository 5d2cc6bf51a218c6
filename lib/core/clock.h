// Monotonic milliseconds, for timeouts and rates that must not jump with the
// wall clock. (Record arrival times use Env::NowMillis, the wall clock.)
#pragma once

#include <chrono>
#include <cstdint>

namespace kstream {

inline int64_t SteadyMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace kstream
