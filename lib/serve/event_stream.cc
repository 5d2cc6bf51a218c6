#include "serve/event_stream.h"

#include <zlib.h>

namespace kstream::serve {

namespace {

constexpr size_t kPreludeBytes = 12;
constexpr size_t kCrcBytes = 4;

uint32_t Crc(std::string_view bytes) {
  return uint32_t(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

void PutU32(std::string& out, uint32_t v) {
  const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(b, 4);
}

uint64_t GetBE(std::string_view bytes, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | static_cast<unsigned char>(bytes[i]);
  return v;
}

}  // namespace

std::string EncodeEventMessage(const EventHeaders& headers, std::string_view payload) {
  std::string head;
  for (const auto& [name, value] : headers) {
    head.push_back(char(name.size()));
    head += name;
    head.push_back(7);  // string
    head.push_back(char(value.size() >> 8));
    head.push_back(char(value.size()));
    head += value;
  }
  std::string out;
  out.reserve(kPreludeBytes + head.size() + payload.size() + kCrcBytes);
  PutU32(out, uint32_t(kPreludeBytes + head.size() + payload.size() + kCrcBytes));
  PutU32(out, uint32_t(head.size()));
  PutU32(out, Crc(out));
  out += head;
  out += payload;
  PutU32(out, Crc(out));
  return out;
}

std::string_view EventMessage::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

Result<EventMessage> DecodeEventMessage(std::string_view bytes) {
  auto bad = [](const std::string& why) { return Status::InvalidArgument("event stream: " + why); };
  if (bytes.size() < kPreludeBytes) return bad("truncated prelude");
  const uint64_t total = GetBE(bytes, 4), headers_len = GetBE(bytes.substr(4), 4);
  if (GetBE(bytes.substr(8), 4) != Crc(bytes.substr(0, 8))) return bad("prelude CRC mismatch");
  if (total < kPreludeBytes + kCrcBytes || total > kMaxEventMessageBytes ||
      headers_len > total - kPreludeBytes - kCrcBytes)
    return bad("bad message lengths");
  if (bytes.size() < total) return bad("truncated message");
  const std::string_view message = bytes.substr(0, total);
  if (GetBE(message.substr(total - kCrcBytes), 4) != Crc(message.substr(0, total - kCrcBytes)))
    return bad("message CRC mismatch");
  EventMessage m;
  m.size = total;
  std::string_view h = message.substr(kPreludeBytes, headers_len);
  while (!h.empty()) {
    const size_t name_len = static_cast<unsigned char>(h[0]);
    if (name_len == 0 || h.size() < 2 + name_len) return bad("malformed header");
    std::string name(h.substr(1, name_len));
    const int type = static_cast<unsigned char>(h[1 + name_len]);
    h.remove_prefix(2 + name_len);
    std::string value;
    size_t fixed = 0;
    switch (type) {
      case 0:
      case 1:
        value = type == 0 ? "true" : "false";
        break;
      case 2:  // byte, short, int, long: signed big-endian
        fixed = 1;
        break;
      case 3:
        fixed = 2;
        break;
      case 4:
        fixed = 4;
        break;
      case 5:
      case 8:  // timestamp: epoch milliseconds
        fixed = 8;
        break;
      case 6:
      case 7: {
        if (h.size() < 2) return bad("malformed header");
        const size_t len = GetBE(h, 2);
        if (h.size() < 2 + len) return bad("malformed header");
        value = std::string(h.substr(2, len));
        h.remove_prefix(2 + len);
        break;
      }
      case 9:  // UUID
        if (h.size() < 16) return bad("malformed header");
        value = std::string(h.substr(0, 16));
        h.remove_prefix(16);
        break;
      default:
        return bad("unknown header type " + std::to_string(type));
    }
    if (fixed) {
      if (h.size() < fixed) return bad("malformed header");
      const uint64_t raw = GetBE(h, fixed);
      const int shift = int(64 - 8 * fixed);
      value = std::to_string(static_cast<int64_t>(raw << shift) >> shift);
      h.remove_prefix(fixed);
    }
    m.headers.emplace_back(std::move(name), std::move(value));
  }
  m.payload = std::string(
      message.substr(kPreludeBytes + headers_len, total - kPreludeBytes - headers_len - kCrcBytes));
  return m;
}

}  // namespace kstream::serve
