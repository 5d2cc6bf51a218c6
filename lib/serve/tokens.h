// Opaque tokens handed to clients: shard iterators and the NextToken of
// ListShards and ListStreams. Each is base64 of a small binary record plus a
// truncated HMAC-SHA256, so a token altered or made up by a client is
// refused ("Invalid ShardIterator."). The key is fixed, so tokens stay valid
// across a restart of the server; it guards against accidents, not against
// an attacker who reads this source (any client may read any stream anyway).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "serve/api_error.h"

namespace kstream::serve {

// Both kinds of token expire five minutes after they are issued.
inline constexpr int64_t kTokenLifetimeMs = 5 * 60 * 1000;

// A position in one shard, as GetShardIterator and GetRecords hand it out.
struct ShardIterator {
  enum class Kind : uint8_t { kTrimHorizon = 1, kAfter = 2, kAtTimestamp = 3 };
  std::string stream;
  int64_t stream_created_ms = 0;  // which incarnation of a re-created name
  uint64_t shard_index = 0;
  Kind kind = Kind::kTrimHorizon;
  uint64_t counter = 0;      // kAfter: every record up to this counter was read
  int64_t timestamp_ms = 0;  // kAtTimestamp: first record arriving at or after it
  int64_t issued_ms = 0;
};

std::string EncodeShardIterator(const ShardIterator& it);
// InvalidArgumentException for anything not made by EncodeShardIterator,
// ExpiredIteratorException once kTokenLifetimeMs has passed.
ApiOr<ShardIterator> DecodeShardIterator(std::string_view token, int64_t now_ms);

// Where the next page of a listing starts.
struct PageToken {
  std::string stream;       // ListShards: the stream; ListStreams: empty
  std::string after;        // the last shard id / stream name of the page
  std::string filter_type;  // ListShards: the ShardFilter of the first call
  std::string filter_shard;
  int64_t filter_timestamp_ms = -1;
  int64_t issued_ms = 0;
};

std::string EncodePageToken(const PageToken& t);
// InvalidArgumentException when malformed, ExpiredNextTokenException when old.
ApiOr<PageToken> DecodePageToken(std::string_view token, int64_t now_ms);

}  // namespace kstream::serve
