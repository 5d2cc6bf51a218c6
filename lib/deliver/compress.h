// Whole-buffer compression into standard frames: gzip (RFC 1952, zlib), zstd
// and LZ4 (the LZ4 frame format), so `gzip -d`, `zstd -d` and `lz4 -d` read
// what kstream-deliver writes. A Compressor keeps its library context
// between calls; it is not thread-safe.
#pragma once

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
  // Replaces out with one complete frame holding in.
  virtual Status Compress(std::string_view in, std::string& out) = 0;
};

}  // namespace kstream
