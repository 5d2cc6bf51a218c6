#include "io/record_writer.h"

#include <unistd.h>

#include <cerrno>

#include "core/text.h"

namespace kstream {

void RecordWriter::AppendEnvelope(uint64_t shard_index, const RecordBatch::Record& r) {
  buf_ += "{\"ShardId\":\"";
  buf_ += ShardIdFor(shard_index);
  buf_ += "\",\"SequenceNumber\":\"";
  AppendDecimal(buf_, r.sequence);
  buf_ += "\",\"PartitionKey\":";
  AppendJsonString(buf_, r.partition_key);
  buf_ += ",\"ApproximateArrivalTimestamp\":";
  AppendEpochSeconds(buf_, r.arrival_ms);
  if (r.explicit_hash_key) {
    buf_ += ",\"ExplicitHashKey\":\"";
    AppendDecimal(buf_, *r.explicit_hash_key);
    buf_ += '"';
  }
  buf_ += ",\"Data\":\"";
  AppendBase64(buf_, r.data);
  buf_ += "\"}\n";
}

Status RecordWriter::Flush() {
  if (!error_.ok()) {
    buf_.clear();
    return error_;
  }
  size_t done = 0;
  while (done < buf_.size() && !closed_) {
    ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) {
        closed_ = true;
        break;
      }
      buf_.clear();
      error_ = Status::FromErrno("write standard output", errno);
      return error_;
    }
    done += size_t(n);
  }
  buf_.clear();
  return Status::Ok();
}

}  // namespace kstream
