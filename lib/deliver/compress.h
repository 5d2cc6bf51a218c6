// Whole-buffer compression into standard frames: gzip (RFC 1952, zlib), zstd
// and LZ4 (the LZ4 frame format), so `gzip -d`, `zstd -d` and `lz4 -d` read
// what kstream-deliver writes. A Compressor keeps its library context and
// its output buffer between calls (neither is set up again per file); it is
// not thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace kstream {

enum class Compression { kNone, kGzip, kZstd, kLz4 };

// "none", "gzip", "zstd", "lz4".
Result<Compression> ParseCompression(std::string_view text);
std::string_view CompressionName(Compression c);
// The file name extension, dot included ("" for none).
std::string_view CompressionExtension(Compression c);
// The levels a codec accepts, and the one used when none is given.
struct LevelRange {
  int min = 0, max = 0, fallback = 0;
};
LevelRange CompressionLevels(Compression c);

class Compressor {
 public:
  // level must be within CompressionLevels(c) (ignored for none).
  static Result<std::unique_ptr<Compressor>> Create(Compression c, int level);
  virtual ~Compressor() = default;
  // Receives the compressed bytes in order, a piece (at most about 1 MiB)
  // at a time; an error stops the compression and is returned.
  using Sink = std::function<Status(std::string_view piece)>;
  // Writes one complete frame holding `in` to sink, streaming: the output
  // never exists whole, so what a thread keeps between files stays small
  // and in cache.
  virtual Status Compress(std::string_view in, const Sink& sink) = 0;
};

}  // namespace kstream
