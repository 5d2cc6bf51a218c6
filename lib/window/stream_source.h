// Records of a stream read straight from a Backend for kstream-window
// --stream: every shard (parents before children), merged by arrival time so
// the arrival timestamps a window sees rise, once to the end or following.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "consume/shard_lineage.h"
#include "store/backend.h"

namespace kstream::window {

class StreamSource {
 public:
  // deaggregate: KPL aggregates as their user records (else as stored).
  StreamSource(Backend& backend, std::string stream, StartPosition start, bool follow,
               bool deaggregate = true)
      : backend_(backend),
        stream_(std::move(stream)),
        lineage_(start),
        follow_(follow),
        deaggregate_(deaggregate) {}

  // Opens the shards; fails when the stream does not exist.
  Status Open();

  struct Record {
    std::string_view data;  // valid until the next call to Next
    int64_t arrival_ms = 0;
  };
  enum class State { kRecord, kIdle, kEnd };
  // kIdle: following and nothing to read now (Wait, then call again).
  Result<State> Next(Record& record);
  // Following: returns when the stream may have changed or after timeout_ms.
  Status Wait(int timeout_ms);
  uint64_t corrupt_records() const { return corrupt_; }
  uint64_t malformed_aggregates() const { return malformed_; }

 private:
  struct Shard {
    std::unique_ptr<ShardCursor> cursor;
    RecordBatch batch;
    size_t pos = 0;
    bool ended = false;  // closed and read to the end once the batch is used up
    bool idle = false;   // the last read found nothing new
    int64_t last_read_ms = 0;
  };
  // Opens the shards that became ready (parents read to their end).
  Status Refresh();
  Status ReadShards();

  Backend& backend_;
  std::string stream_;
  ShardLineage lineage_;
  bool follow_;
  bool deaggregate_;
  std::unique_ptr<ChangeWatch> watch_;
  std::map<uint64_t, Shard> active_;
  int64_t last_refresh_ms_ = 0;
  uint64_t corrupt_ = 0;
  uint64_t malformed_ = 0;
};

}  // namespace kstream::window
