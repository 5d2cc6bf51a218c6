// StopFlag: a stop request (SIGINT/SIGTERM, or another thread in tests) that
// long-running loops poll. A lock-free atomic, so a signal handler may set it
// and any thread may read it without a data race.
#pragma once

#include <atomic>

namespace kstream {

using StopFlag = std::atomic<bool>;
static_assert(StopFlag::is_always_lock_free, "a signal handler sets it");

}  // namespace kstream
