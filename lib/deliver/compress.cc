#include "deliver/compress.h"

#include <algorithm>

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

// The input is compressed a piece at a time into a buffer of about this
// size, which goes to the sink before the next piece.
constexpr size_t kPiece = 1 << 20;

class Copy final : public Compressor {
 public:
  Status Compress(std::string_view in, const Sink& sink) override {
    return in.empty() ? Status::Ok() : sink(in);
  }
};

class Gzip final : public Compressor {
 public:
  explicit Gzip(int level) : level_(level), out_(kPiece, '\0') {}
  ~Gzip() override {
    if (ready_) deflateEnd(&z_);
  }
  Status Compress(std::string_view in, const Sink& sink) override {
    if (!ready_) {
      // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
      if (deflateInit2(&z_, level_, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return Status::IOError("gzip: cannot initialise zlib");
      ready_ = true;
    } else if (deflateReset(&z_) != Z_OK) {
      return Status::IOError("gzip: cannot reset zlib");
    }
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = uInt(in.size());  // parts are far below 4 GiB
    for (int rc = Z_OK; rc != Z_STREAM_END;) {
      z_.next_out = reinterpret_cast<Bytef*>(out_.data());
      z_.avail_out = uInt(out_.size());
      rc = deflate(&z_, Z_FINISH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        return Status::IOError("gzip: deflate failed");
      KS_RETURN_IF_ERROR(sink({out_.data(), out_.size() - z_.avail_out}));
    }
    return Status::Ok();
  }

 private:
  int level_;
  z_stream z_{};
  bool ready_ = false;
  std::string out_;
};

class Zstd final : public Compressor {
 public:
  explicit Zstd(int level) : cctx_(ZSTD_createCCtx()), out_(kPiece, '\0') {
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);  // as the zstd CLI does
  }
  ~Zstd() override { ZSTD_freeCCtx(cctx_); }
  Status Compress(std::string_view in, const Sink& sink) override {
    if (!cctx_) return Status::IOError("zstd: cannot create a context");
    // The whole part as one contiguous input; its size goes into the frame
    // header and tunes the parameters, as for the CLI on a regular file.
    size_t rc = ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_only);
    if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setPledgedSrcSize(cctx_, in.size());
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    while (!ZSTD_isError(rc)) {
      ZSTD_outBuffer output{out_.data(), out_.size(), 0};
      rc = ZSTD_compressStream2(cctx_, &output, &input, ZSTD_e_end);
      if (ZSTD_isError(rc)) break;
      KS_RETURN_IF_ERROR(sink({out_.data(), output.pos}));
      if (rc == 0) return Status::Ok();  // the frame is complete
    }
    return Status::IOError(std::string("zstd: ") + ZSTD_getErrorName(rc));
  }

 private:
  ZSTD_CCtx* cctx_;
  std::string out_;
};

class Lz4 final : public Compressor {
 public:
  explicit Lz4(int level) {
    if (LZ4F_isError(LZ4F_createCompressionContext(&cctx_, LZ4F_VERSION))) cctx_ = nullptr;
    prefs_.compressionLevel = level;
    // The lz4 CLI's defaults: 4 MB independent blocks, a content checksum.
    prefs_.frameInfo.blockSizeID = LZ4F_max4MB;
    prefs_.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs_.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    // Each update's input becomes blocks at once, compressed straight from
    // the part; nothing is copied aside to fill a 4 MB block.
    prefs_.autoFlush = 1;
    out_.resize(LZ4F_compressBound(kPiece, &prefs_));
  }
  ~Lz4() override { LZ4F_freeCompressionContext(cctx_); }
  Status Compress(std::string_view in, const Sink& sink) override {
    if (!cctx_) return Status::IOError("lz4: cannot create a context");
    LZ4F_preferences_t prefs = prefs_;
    prefs.frameInfo.contentSize = in.size();
    auto failed = [](size_t n) {
      return Status::IOError(std::string("lz4: ") + LZ4F_getErrorName(n));
    };
    size_t n = LZ4F_compressBegin(cctx_, out_.data(), out_.size(), &prefs);
    if (LZ4F_isError(n)) return failed(n);
    KS_RETURN_IF_ERROR(sink({out_.data(), n}));
    for (size_t at = 0; at < in.size(); at += kPiece) {
      const size_t piece = std::min(kPiece, in.size() - at);
      n = LZ4F_compressUpdate(cctx_, out_.data(), out_.size(), in.data() + at, piece, nullptr);
      if (LZ4F_isError(n)) return failed(n);
      KS_RETURN_IF_ERROR(sink({out_.data(), n}));
    }
    n = LZ4F_compressEnd(cctx_, out_.data(), out_.size(), nullptr);
    if (LZ4F_isError(n)) return failed(n);
    return sink({out_.data(), n});
  }

 private:
  LZ4F_cctx* cctx_ = nullptr;
  LZ4F_preferences_t prefs_{};
  std::string out_;
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
