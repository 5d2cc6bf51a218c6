// Segment files: header, frame encoding, and a buffered frame reader that
// applies the recovery policy of FORMAT.md (torn tail = end; damage in the
// middle = skipped and counted).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/env.h"
#include "core/hash_key.h"
#include "core/status.h"

namespace kstream {

inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr size_t kFrameHeaderSize = 8;   // crc + length
inline constexpr size_t kFrameTrailerSize = 4;  // length again
inline constexpr size_t kBodyFixedSize = 20;    // type, flags, key length, counter, time
inline constexpr size_t kFrameOverhead = kFrameHeaderSize + kBodyFixedSize + kFrameTrailerSize;
// No valid body is longer: 1 MiB record + key + fixed fields, with room to spare.
inline constexpr uint32_t kMaxBodySize = 4u << 20;
inline constexpr uint64_t kIndexBlockBytes = 64 * 1024;

enum class FrameType : uint8_t { kRecord = 1, kRoll = 2, kSeal = 3 };

struct SegmentHeader {
  uint64_t first_counter = 1;
  int64_t first_time_ms = 0;
};

std::string EncodeSegmentHeader(const SegmentHeader& h);
// Fails with kCorruption when the magic, version or CRC is wrong.
Result<SegmentHeader> DecodeSegmentHeader(std::string_view bytes, const std::string& path);

// A decoded frame; the views point into the reader's buffer and stay valid
// until the next call on that reader.
struct Frame {
  FrameType type = FrameType::kRecord;
  uint64_t counter = 0;
  int64_t arrival_ms = 0;
  std::optional<uint128> explicit_hash_key;
  std::string_view partition_key;
  std::string_view data;
  uint64_t offset = 0;  // where the frame starts in the segment
  uint32_t size = 0;    // whole frame, header and trailer included
};

// Appends one frame to out.
void AppendFrame(std::string& out, FrameType type, uint64_t counter, int64_t arrival_ms,
                 const std::optional<uint128>& explicit_hash_key, std::string_view partition_key,
                 std::string_view data);
inline size_t FrameSize(size_t key_size, size_t data_size, bool has_hash_key) {
  return kFrameOverhead + key_size + data_size + (has_hash_key ? 16 : 0);
}

// Checks and decodes the frame at bytes[0...]; `bytes` may hold more after it.
enum class DecodeResult { kOk, kIncomplete, kBad };
DecodeResult DecodeFrame(std::string_view bytes, Frame& frame);

// Finds the last frame of a segment of `size` bytes through its trailing
// length, without scanning. False when that frame does not check out (a torn
// tail, or a segment with no frame): then only a scan can tell where data ends.
// `frame` views point into buf.
Result<bool> ReadLastFrame(ReadFile& file, uint64_t size, std::string& buf, Frame& frame);

// Reads the frames of one segment in order with large buffered reads.
// Not thread-safe. Takes no lock: concurrent appends are seen as they land.
class SegmentReader {
 public:
  // Opens path and checks its header. kNotFound if the file is gone.
  static Result<std::unique_ptr<SegmentReader>> Open(Env* env, const std::string& path);

  const SegmentHeader& header() const { return header_; }
  const std::string& path() const { return file_->path(); }

  enum class Next {
    kFrame,      // `frame` holds the next frame
    kEndOfData,  // nothing more for now: end of file or a torn tail
  };
  // Reads the next frame. Damaged frames with good data after them are
  // skipped and counted in corrupt_frames().
  Result<Next> Read(Frame& frame);
  // Keeps alive the memory the views of the frame Read() returned last point
  // into: a copy of it keeps them valid after later reads, which then read
  // into other memory (RecordBatch::AddView).
  const std::shared_ptr<const void>& frame_holder() const { return buf_.holder(); }

  // Positions the reader at offset, which must be a frame boundary (or the
  // header size), after the record with last_counter.
  void Seek(uint64_t offset, uint64_t last_counter);
  // Positions the reader at an index hint if a good record frame with
  // `counter` and `arrival_ms` starts at offset; returns false (position
  // unchanged) otherwise, also for offsets outside the file.
  Result<bool> SeekToHint(uint64_t offset, uint64_t counter, int64_t arrival_ms);
  uint64_t offset() const { return offset_; }
  uint64_t corrupt_frames() const { return corrupt_frames_; }
  uint64_t skipped_bytes() const { return skipped_bytes_; }

 private:
  SegmentReader(std::unique_ptr<ReadFile> file, SegmentHeader h)
      : file_(std::move(file)), header_(h) {}
  // Makes at least `need` bytes from offset_ available in buf_ if the file
  // has them; returns how many are available.
  Result<size_t> Fill(size_t need);
  // Looks for the next good frame after a bad one; true if one was found.
  Result<bool> Resync(uint64_t last_counter);

 public:
  uint64_t last_counter() const { return last_counter_; }

 private:
  // Like a std::string, but growing it leaves the new bytes unset: Fill
  // reads into them at once, and zeroing each chunk first cost ~5% of a read.
  // Bytes once read are never changed while a copy of holder() is alive
  // (records handed out as views into them): clear and erase_front move on
  // to other memory then, one spare kept for when the views are gone.
  class Buffer {
   public:
    char* data() { return bytes_; }
    size_t size() const { return size_; }
    void clear();
    void erase_front(size_t n);
    void resize(size_t n);  // contents up to min(n, size()) kept
    const std::shared_ptr<const void>& holder() const { return holder_; }

   private:
    bool Shared() const { return holder_.use_count() > 1; }
    // Makes bytes_ memory of at least capacity_ bytes nothing views.
    void MoveOn();
    char* bytes_ = nullptr;  // owned by holder_
    std::shared_ptr<const void> holder_;
    size_t size_ = 0, capacity_ = 0;
    char* spare_ = nullptr;  // owned by spare_holder_
    std::shared_ptr<const void> spare_holder_;
    size_t spare_capacity_ = 0;
  };

  std::unique_ptr<ReadFile> file_;
  SegmentHeader header_;
  Buffer buf_;
  uint64_t buf_offset_ = 0;  // file offset of buf_[0]
  uint64_t offset_ = kSegmentHeaderSize;
  uint64_t last_counter_ = 0;
  uint64_t corrupt_frames_ = 0;
  uint64_t skipped_bytes_ = 0;
};

// The path of a shard's segment (or index) file whose first counter is given.
std::string SegmentFileName(uint64_t first_counter);
std::string IndexFileName(uint64_t first_counter);
// Parses "00000000000000000001.seg"; nullopt for other names.
std::optional<uint64_t> ParseSegmentFileName(std::string_view name);

}  // namespace kstream
