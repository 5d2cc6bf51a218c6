// De-aggregation of KPL aggregated records, once, for every reader: a cursor
// over a shard's Kinesis records that hands out user records, as the KCL
// does. Every reader opens its cursors through OpenReadCursor (kstream-get,
// consumer groups and what runs on them, kstream-window --stream), so all of
// them de-aggregate by default and pass raw records with --no-deaggregate.
//
// A user record keeps its Kinesis record's sequence number and arrival time,
// gets its own partition key and explicit hash key from the aggregate's
// tables, and its index in the aggregate as RecordBatch::Record::sub_sequence.
// A record with the magic that is not a valid aggregate (too short, a wrong
// MD5, bad protobuf, an index out of its table) is passed on raw and counted.
// Unlike the KCL, a user record whose key hashes outside the shard (an
// aggregate written across a reshard) is delivered, not dropped with its
// whole aggregate.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kpl/aggregate.h"
#include "store/backend.h"

namespace kstream {

class DeaggregatingCursor final : public ShardCursor {
 public:
  // `start` is the position `inner` was opened at: its after_sub_sequence
  // skips the processed head of the first aggregate. *malformed (optional,
  // must outlive the cursor) counts records passed on raw for damage.
  // whole_records: see Read.
  DeaggregatingCursor(std::unique_ptr<ShardCursor> inner, const StartPosition& start,
                      uint64_t* malformed, bool whole_records = false);

  // Appends up to max_records user records; an aggregate larger than that is
  // handed out over several calls, unless whole_records: then a read never
  // ends inside an aggregate (and may exceed max_records to finish one), for
  // readers that can only track whole Kinesis records.
  Result<State> Read(RecordBatch& batch, size_t max_records, size_t max_bytes) override;
  uint64_t shard_index() const override { return inner_->shard_index(); }
  uint64_t corrupt_records() const override { return inner_->corrupt_records(); }

 private:
  bool Buffered() const {
    return next_user_ < decoder_.records().size() || next_raw_ < raw_.size();
  }
  bool InsideAggregate() const { return next_user_ > 0 && next_user_ < decoder_.records().size(); }
  // Appends the next buffered user record to batch; false if none is left.
  bool AddNext(RecordBatch& batch);

  std::unique_ptr<ShardCursor> inner_;
  std::optional<std::pair<SequenceNumber, uint32_t>>
      skip_;  // (sequence, last processed sub-record)
  uint64_t* malformed_;
  bool whole_records_;
  RecordBatch raw_;  // Kinesis records read, not all handed out
  size_t next_raw_ = 0;
  kpl::Decoder decoder_;  // the aggregate raw_[next_raw_ - 1], when it is one
  RecordBatch::Record outer_{};
  size_t next_user_ = 0;
  State inner_state_ = State::kMore;
};

struct ReadOptions {
  bool deaggregate = true;        // false: --no-deaggregate, Kinesis records as stored
  uint64_t* malformed = nullptr;  // counts malformed aggregates passed on raw
  bool whole_records = false;     // reads end between Kinesis records (DeaggregatingCursor)
  // For readers that follow lineage (whole-stream readers, consumer groups):
  // a shard that left the stream (it expired, closed longer than retention)
  // before or while it is read is at its end, so its children go on; a
  // reader of a shard the user named wants the not-found error instead.
  bool gone_is_end = false;
};

// Opens a cursor on one shard, de-aggregating unless told not to.
Result<std::unique_ptr<ShardCursor>> OpenReadCursor(Backend& backend, const std::string& stream,
                                                    uint64_t shard, const StartPosition& start,
                                                    const ReadOptions& options);

}  // namespace kstream
