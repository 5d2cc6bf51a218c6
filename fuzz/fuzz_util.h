// Shared bits of the fuzz targets: a checked-invariant macro that aborts (so
// libFuzzer records the input) and a scratch directory per process.
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <string>

// Unlike assert, stays on in Release builds.
#define FUZZ_CHECK(cond)                                                           \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

namespace kstream::fuzz {

// A directory private to this process under $TMPDIR (or /dev/shm, which
// keeps file-based targets off the disk), made on first use.
const std::string& ScratchDir();

}  // namespace kstream::fuzz
