// The AWS event stream encoding (application/vnd.amazon.eventstream), in
// which SubscribeToShard answers: a sequence of binary messages, each
//   total length u32 BE | headers length u32 BE | CRC32 of those 8 bytes |
//   headers | payload | CRC32 of everything before it
// with headers as name length u8, name, value type u8 and value (a string,
// type 7, is a u16 BE length and the bytes). The CRC is zlib's CRC-32.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace kstream::serve {

using EventHeaders = std::vector<std::pair<std::string, std::string>>;

// The largest message the format allows (the SDKs refuse bigger ones).
inline constexpr size_t kMaxEventMessageBytes = 16u << 20;

// One message with string-valued headers (all SubscribeToShard sends).
std::string EncodeEventMessage(const EventHeaders& headers, std::string_view payload);

// A decoded message: headers of any type, values rendered as text (strings
// as they are, integers in decimal, booleans "true"/"false", byte arrays
// and UUIDs as raw bytes, timestamps as epoch milliseconds in decimal).
struct EventMessage {
  EventHeaders headers;
  std::string payload;
  size_t size = 0;  // bytes the message took

  std::string_view Header(std::string_view name) const;
};

// Decodes the message at the start of `bytes`: kInvalidArgument with the
// reason when it is short, its lengths or CRCs do not hold, or a header is
// malformed. Trailing bytes (the next message) are left alone.
Result<EventMessage> DecodeEventMessage(std::string_view bytes);

}  // namespace kstream::serve
