#include "fuzz_util.h"

#include <unistd.h>

#include <filesystem>

namespace kstream::fuzz {

const std::string& ScratchDir() {
  static const std::string dir = [] {
    const char* base = getenv("TMPDIR");
    std::string root = base && *base ? base : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    std::string tmpl = root + "/kstream-fuzz-XXXXXX";
    FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr);
    // Removed at exit, also after an invariant failure is not needed: a
    // crash leaves it for inspection.
    static std::string keep = tmpl;
    atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(keep, ec);
    });
    return tmpl;
  }();
  return dir;
}

}  // namespace kstream::fuzz
