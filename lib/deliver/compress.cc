#include "deliver/compress.h"

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

namespace kstream {

Result<Compression> ParseCompression(std::string_view text) {
  if (text == "none") return Compression::kNone;
  if (text == "gzip") return Compression::kGzip;
  if (text == "zstd") return Compression::kZstd;
  if (text == "lz4") return Compression::kLz4;
  return Status::InvalidArgument("unknown compression '" + std::string(text) +
                                 "' (use none, gzip, zstd or lz4)");
}

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kLz4:
      return "lz4";
  }
  return "none";
}

std::string_view CompressionExtension(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "";
    case Compression::kGzip:
      return ".gz";
    case Compression::kZstd:
      return ".zst";
    case Compression::kLz4:
      return ".lz4";
  }
  return "";
}

LevelRange CompressionLevels(Compression c) {
  switch (c) {
    case Compression::kNone:
      return {0, 0, 0};
    case Compression::kGzip:
      return {1, 9, 6};
    case Compression::kZstd:
      return {1, ZSTD_maxCLevel(), 3};
    case Compression::kLz4:
      return {1, LZ4F_compressionLevel_max(), 1};
  }
  return {};
}

namespace {

class Copy final : public Compressor {
 public:
  Status Compress(std::string_view in, std::string& out) override {
    out.assign(in);
    return Status::Ok();
  }
};

class Gzip final : public Compressor {
 public:
  explicit Gzip(int level) : level_(level) {}
  ~Gzip() override {
    if (ready_) deflateEnd(&z_);
  }
  Status Compress(std::string_view in, std::string& out) override {
    if (!ready_) {
      // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
      if (deflateInit2(&z_, level_, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return Status::IOError("gzip: cannot initialise zlib");
      ready_ = true;
    } else if (deflateReset(&z_) != Z_OK) {
      return Status::IOError("gzip: cannot reset zlib");
    }
    out.resize(deflateBound(&z_, uLong(in.size())));
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = uInt(in.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = uInt(out.size());
    if (deflate(&z_, Z_FINISH) != Z_STREAM_END) return Status::IOError("gzip: deflate failed");
    out.resize(out.size() - z_.avail_out);
    return Status::Ok();
  }

 private:
  int level_;
  z_stream z_{};
  bool ready_ = false;
};

class Zstd final : public Compressor {
 public:
  explicit Zstd(int level) : cctx_(ZSTD_createCCtx()) {
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);  // as the zstd CLI does
  }
  ~Zstd() override { ZSTD_freeCCtx(cctx_); }
  Status Compress(std::string_view in, std::string& out) override {
    if (!cctx_) return Status::IOError("zstd: cannot create a context");
    out.resize(ZSTD_compressBound(in.size()));
    size_t n = ZSTD_compress2(cctx_, out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(n)) return Status::IOError(std::string("zstd: ") + ZSTD_getErrorName(n));
    out.resize(n);
    return Status::Ok();
  }

 private:
  ZSTD_CCtx* cctx_;
};

class Lz4 final : public Compressor {
 public:
  explicit Lz4(int level) {
    prefs_.compressionLevel = level;
    // The lz4 CLI's defaults: 4 MB independent blocks, a content checksum.
    prefs_.frameInfo.blockSizeID = LZ4F_max4MB;
    prefs_.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs_.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  }
  Status Compress(std::string_view in, std::string& out) override {
    LZ4F_preferences_t prefs = prefs_;
    prefs.frameInfo.contentSize = in.size();
    out.resize(LZ4F_compressFrameBound(in.size(), &prefs));
    size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
    if (LZ4F_isError(n)) return Status::IOError(std::string("lz4: ") + LZ4F_getErrorName(n));
    out.resize(n);
    return Status::Ok();
  }

 private:
  LZ4F_preferences_t prefs_{};
};

}  // namespace

Result<std::unique_ptr<Compressor>> Compressor::Create(Compression c, int level) {
  const LevelRange r = CompressionLevels(c);
  if (c != Compression::kNone && (level < r.min || level > r.max))
    return Status::InvalidArgument(std::string(CompressionName(c)) + " levels are " +
                                   std::to_string(r.min) + " to " + std::to_string(r.max));
  switch (c) {
    case Compression::kNone:
      return std::unique_ptr<Compressor>(new Copy);
    case Compression::kGzip:
      return std::unique_ptr<Compressor>(new Gzip(level));
    case Compression::kZstd:
      return std::unique_ptr<Compressor>(new Zstd(level));
    case Compression::kLz4:
      return std::unique_ptr<Compressor>(new Lz4(level));
  }
  return Status::InvalidArgument("unknown compression");
}

}  // namespace kstream
