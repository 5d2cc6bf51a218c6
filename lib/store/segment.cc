#include "store/segment.h"

#include <charconv>
#include <cstring>

#include "core/crc32c.h"

namespace kstream {
namespace {

constexpr char kMagic[8] = {'K', 'S', 'T', 'R', 'M', 'S', 'E', 'G'};
constexpr uint32_t kVersion = 1;
constexpr size_t kReadChunk = 1 << 20;

template <typename T>
void Put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian hosts only (x86-64, arm64)
  out.append(b, sizeof(T));
}
template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

std::string EncodeSegmentHeader(const SegmentHeader& h) {
  std::string out(kMagic, sizeof(kMagic));
  Put<uint32_t>(out, kVersion);
  Put<uint64_t>(out, h.first_counter);
  Put<int64_t>(out, h.first_time_ms);
  Put<uint32_t>(out, crc32c::Mask(crc32c::Value(out.data(), out.size())));
  return out;
}

Result<SegmentHeader> DecodeSegmentHeader(std::string_view b, const std::string& path) {
  if (b.size() < kSegmentHeaderSize)
    return Status::Corruption(path + ": segment header is truncated");
  if (std::memcmp(b.data(), kMagic, sizeof(kMagic)) != 0)
    return Status::Corruption(path + ": not a kstream segment (bad magic)");
  if (Get<uint32_t>(b.data() + 28) != crc32c::Mask(crc32c::Value(b.data(), 28)))
    return Status::Corruption(path + ": segment header checksum mismatch");
  if (uint32_t v = Get<uint32_t>(b.data() + 8); v != kVersion)
    return Status::Corruption(path + ": unsupported segment version " + std::to_string(v));
  SegmentHeader h;
  h.first_counter = Get<uint64_t>(b.data() + 12);
  h.first_time_ms = Get<int64_t>(b.data() + 20);
  return h;
}

void AppendFrame(std::string& out, FrameType type, uint64_t counter, int64_t arrival_ms,
                 const std::optional<uint128>& explicit_hash_key, std::string_view partition_key,
                 std::string_view data) {
  const size_t body =
      kBodyFixedSize + (explicit_hash_key ? 16 : 0) + partition_key.size() + data.size();
  const size_t start = out.size();
  out.resize(start + kFrameHeaderSize + body + kFrameTrailerSize);
  char* p = out.data() + start;
  const uint32_t len = uint32_t(body);
  std::memcpy(p + 4, &len, 4);
  char* b = p + kFrameHeaderSize;
  b[0] = char(type);
  b[1] = explicit_hash_key ? 1 : 0;
  const uint16_t key_len = uint16_t(partition_key.size());
  std::memcpy(b + 2, &key_len, 2);
  std::memcpy(b + 4, &counter, 8);
  std::memcpy(b + 12, &arrival_ms, 8);
  char* q = b + kBodyFixedSize;
  if (explicit_hash_key) {
    std::memcpy(q, &*explicit_hash_key, 16);
    q += 16;
  }
  if (!partition_key.empty()) std::memcpy(q, partition_key.data(), partition_key.size());
  q += partition_key.size();
  if (!data.empty()) std::memcpy(q, data.data(), data.size());
  std::memcpy(b + body, &len, 4);
  const uint32_t crc = crc32c::Mask(crc32c::Value(p + 4, 4 + body));
  std::memcpy(p, &crc, 4);
}

DecodeResult DecodeFrame(std::string_view bytes, Frame& f) {
  if (bytes.size() < kFrameHeaderSize) return DecodeResult::kIncomplete;
  const char* p = bytes.data();
  const uint32_t len = Get<uint32_t>(p + 4);
  if (len < kBodyFixedSize || len > kMaxBodySize) return DecodeResult::kBad;
  const size_t total = kFrameHeaderSize + size_t(len) + kFrameTrailerSize;
  if (bytes.size() < total) return DecodeResult::kIncomplete;
  if (Get<uint32_t>(p + kFrameHeaderSize + len) != len) return DecodeResult::kBad;
  if (crc32c::Unmask(Get<uint32_t>(p)) != crc32c::Value(p + 4, 4 + size_t(len)))
    return DecodeResult::kBad;
  const char* b = p + kFrameHeaderSize;
  const uint8_t type = uint8_t(b[0]);
  if (type < 1 || type > 3) return DecodeResult::kBad;
  const bool has_ehk = (b[1] & 1) != 0;
  const uint16_t key_len = Get<uint16_t>(b + 2);
  const size_t fixed = kBodyFixedSize + (has_ehk ? 16 : 0);
  if (fixed + key_len > len) return DecodeResult::kBad;
  f.type = FrameType(type);
  f.counter = Get<uint64_t>(b + 4);
  f.arrival_ms = Get<int64_t>(b + 12);
  const char* q = b + kBodyFixedSize;
  if (has_ehk) {
    f.explicit_hash_key = Get<uint128>(q);
    q += 16;
  } else {
    f.explicit_hash_key.reset();
  }
  f.partition_key = std::string_view(q, key_len);
  f.data = std::string_view(q + key_len, len - fixed - key_len);
  f.size = uint32_t(total);
  return DecodeResult::kOk;
}

Result<std::unique_ptr<SegmentReader>> SegmentReader::Open(Env* env, const std::string& path) {
  KS_ASSIGN_OR_RETURN(auto file, env->OpenRead(path));
  char hdr[kSegmentHeaderSize];
  KS_ASSIGN_OR_RETURN(size_t n, file->ReadAt(0, sizeof(hdr), hdr));
  // A writer creates the file, then writes the header: a reader may come in
  // between. (A writer that died there leaves the same, fixed by the next one.)
  if (n < sizeof(hdr)) return Status::FailedPrecondition(path + ": segment header not written yet");
  KS_ASSIGN_OR_RETURN(SegmentHeader h, DecodeSegmentHeader(std::string_view(hdr, n), path));
  auto r = std::unique_ptr<SegmentReader>(new SegmentReader(std::move(file), h));
  r->last_counter_ = h.first_counter - 1;
  return r;
}

Result<bool> ReadLastFrame(ReadFile& file, uint64_t size, std::string& buf, Frame& frame) {
  if (size < kSegmentHeaderSize + kFrameOverhead) return false;
  uint32_t len = 0;
  KS_ASSIGN_OR_RETURN(size_t n, file.ReadAt(size - 4, 4, reinterpret_cast<char*>(&len)));
  const uint64_t frame_size = kFrameHeaderSize + uint64_t(len) + kFrameTrailerSize;
  if (n != 4 || len > kMaxBodySize || frame_size > size - kSegmentHeaderSize) return false;
  buf.resize(frame_size);
  KS_ASSIGN_OR_RETURN(n, file.ReadAt(size - frame_size, frame_size, buf.data()));
  if (n != frame_size || DecodeFrame(buf, frame) != DecodeResult::kOk) return false;
  frame.offset = size - frame_size;
  return true;
}

Result<bool> SegmentReader::SeekToHint(uint64_t offset, uint64_t counter, int64_t arrival_ms) {
  // A damaged index may hold any offset; one past the data is just a wrong
  // hint (and beyond 2^63 it would make pread fail).
  KS_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
  if (offset < kSegmentHeaderSize || offset >= size) return false;
  const uint64_t saved = offset_;
  offset_ = offset;
  KS_ASSIGN_OR_RETURN(size_t avail, Fill(kFrameOverhead));
  Frame f;
  bool good = false;
  if (avail >= kFrameHeaderSize) {
    const char* p = buf_.data() + (offset_ - buf_offset_);
    uint32_t len = Get<uint32_t>(p + 4);
    if (len <= kMaxBodySize) {
      KS_ASSIGN_OR_RETURN(avail, Fill(kFrameHeaderSize + len + kFrameTrailerSize));
      p = buf_.data() + (offset_ - buf_offset_);
      good = DecodeFrame(std::string_view(p, avail), f) == DecodeResult::kOk &&
             f.type == FrameType::kRecord && f.counter == counter && f.arrival_ms == arrival_ms;
    }
  }
  if (!good) {
    offset_ = saved;
    return false;
  }
  last_counter_ = counter - 1;
  return true;
}

void SegmentReader::Seek(uint64_t offset, uint64_t last_counter) {
  offset_ = offset;
  last_counter_ = last_counter;
}

namespace {

// n bytes, not zeroed, and their owner.
char* Allocate(size_t n, std::shared_ptr<const void>& holder) {
  std::shared_ptr<char[]> bytes(new char[n]);
  char* p = bytes.get();
  holder = std::move(bytes);
  return p;
}

}  // namespace

void SegmentReader::Buffer::MoveOn() {
  if (!spare_holder_ || spare_holder_.use_count() > 1 || spare_capacity_ < capacity_) {
    spare_holder_.reset();
    spare_ = Allocate(capacity_, spare_holder_);
    spare_capacity_ = capacity_;
  }
  std::swap(bytes_, spare_);
  std::swap(holder_, spare_holder_);
  std::swap(capacity_, spare_capacity_);
}

void SegmentReader::Buffer::clear() {
  if (Shared()) MoveOn();
  size_ = 0;
}

void SegmentReader::Buffer::erase_front(size_t n) {
  if (Shared()) {
    const char* tail = bytes_ + n;  // still alive: spare_holder_ holds it after MoveOn
    MoveOn();
    std::memcpy(bytes_, tail, size_ - n);
  } else {
    std::memmove(bytes_, bytes_ + n, size_ - n);
  }
  size_ -= n;
}

void SegmentReader::Buffer::resize(size_t n) {
  if (n > capacity_) {
    std::shared_ptr<const void> holder;
    char* bigger = Allocate(n, holder);
    if (size_) std::memcpy(bigger, bytes_, size_);
    bytes_ = bigger;
    holder_ = std::move(holder);  // the old memory lives on while viewed
    capacity_ = n;
  }
  size_ = n;
}

Result<size_t> SegmentReader::Fill(size_t need) {
  const uint64_t buf_end = buf_offset_ + buf_.size();
  if (offset_ >= buf_offset_ && offset_ <= buf_end) {
    const size_t available = size_t(buf_end - offset_);
    if (available >= need) return available;
    buf_.erase_front(size_t(offset_ - buf_offset_));  // keep the unread tail
  } else {
    buf_.clear();
  }
  buf_offset_ = offset_;
  const size_t have = buf_.size();
  // The unread tail and the read together fill kReadChunk (more only for a
  // larger frame): the buffer keeps its size, so it is not allocated again
  // (and its pages faulted in afresh) at every refill.
  const size_t want = std::max(need, kReadChunk) - have;
  buf_.resize(have + want);
  auto got = file_->ReadAt(buf_offset_ + have, want, buf_.data() + have);
  if (!got.ok()) {
    buf_.resize(have);
    return got.status();
  }
  buf_.resize(have + *got);
  return buf_.size();
}

Result<SegmentReader::Next> SegmentReader::Read(Frame& frame) {
  for (;;) {
    KS_ASSIGN_OR_RETURN(size_t avail, Fill(kFrameHeaderSize));
    if (avail < kFrameHeaderSize) return Next::kEndOfData;
    const char* p = buf_.data() + (offset_ - buf_offset_);
    const uint32_t len = Get<uint32_t>(p + 4);
    if (len <= kMaxBodySize) {
      const size_t total = kFrameHeaderSize + len + kFrameTrailerSize;
      KS_ASSIGN_OR_RETURN(avail, Fill(total));
      p = buf_.data() + (offset_ - buf_offset_);
      if (avail < total) {
        // Runs past the end of the file: a write in progress or a torn tail.
        // Only when the file ends in a good frame beyond this one (no write
        // in progress) is the length itself damaged, and worth skipping.
        KS_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
        std::string tail;
        Frame last;
        KS_ASSIGN_OR_RETURN(bool clean_end, ReadLastFrame(*file_, size, tail, last));
        if (!clean_end || last.offset <= offset_) return Next::kEndOfData;
        // The writer may have finished this frame (and more) since the read
        // above: read again before calling its length damaged. Skipping it
        // then lost a good record (tests/cli/stress.sh, under load).
        KS_ASSIGN_OR_RETURN(avail, Fill(total));
        p = buf_.data() + (offset_ - buf_offset_);
        if (avail < total) {
          KS_ASSIGN_OR_RETURN(bool found, Resync(last_counter_));
          if (!found) return Next::kEndOfData;
          continue;
        }
      }
    }
    DecodeResult r = DecodeFrame(std::string_view(p, avail), frame);
    const bool in_order = frame.type == FrameType::kRecord ? frame.counter > last_counter_
                                                           : frame.counter >= last_counter_;
    if (r == DecodeResult::kOk && in_order) {
      frame.offset = offset_;
      offset_ += frame.size;
      last_counter_ = frame.counter;
      return Next::kFrame;
    }
    KS_ASSIGN_OR_RETURN(bool found, Resync(last_counter_));
    if (!found) return Next::kEndOfData;  // a torn tail: nothing good after it
  }
}

Result<bool> SegmentReader::Resync(uint64_t last_counter) {
  // Try every later offset for a frame with a good checksum whose counter
  // continues the sequence. Damage is rare and a segment is bounded (64 MiB
  // plus one batch), so the rest of the file is simply loaded.
  KS_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
  if (size <= offset_ + 1) return false;
  KS_ASSIGN_OR_RETURN(size_t avail, Fill(size_t(size - offset_)));
  const char* p = buf_.data() + (offset_ - buf_offset_);
  Frame f;
  for (size_t i = 1; i + kFrameOverhead <= avail; ++i) {
    if (DecodeFrame(std::string_view(p + i, avail - i), f) == DecodeResult::kOk &&
        (f.type == FrameType::kRecord ? f.counter > last_counter : f.counter >= last_counter)) {
      corrupt_frames_++;
      skipped_bytes_ += i;
      offset_ += i;
      return true;
    }
  }
  return false;
}

std::string SegmentFileName(uint64_t first_counter) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%020llu.seg", static_cast<unsigned long long>(first_counter));
  return buf;
}

std::string IndexFileName(uint64_t first_counter) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%020llu.idx", static_cast<unsigned long long>(first_counter));
  return buf;
}

std::optional<uint64_t> ParseSegmentFileName(std::string_view name) {
  if (name.size() != 24 || name.substr(20) != ".seg") return std::nullopt;
  uint64_t v;
  auto [p, ec] = std::from_chars(name.data(), name.data() + 20, v);
  if (ec != std::errc() || p != name.data() + 20) return std::nullopt;
  return v;
}

}  // namespace kstream
