#include "io/record_writer.h"

#include <unistd.h>

#include <cerrno>

#include "core/text.h"

namespace kstream {

void AppendRecordEnvelope(std::string& out, uint64_t shard_index, const RecordBatch::Record& r) {
  out += "{\"ShardId\":\"";
  out += ShardIdFor(shard_index);
  out += "\",\"SequenceNumber\":\"";
  AppendDecimal(out, r.sequence);
  out += '"';
  if (r.sub_sequence) {
    out += ",\"SubSequenceNumber\":";
    out += std::to_string(*r.sub_sequence);
  }
  out += ",\"PartitionKey\":";
  AppendJsonString(out, r.partition_key);
  out += ",\"ApproximateArrivalTimestamp\":";
  AppendEpochSeconds(out, r.arrival_ms);
  if (r.explicit_hash_key) {
    out += ",\"ExplicitHashKey\":\"";
    AppendDecimal(out, *r.explicit_hash_key);
    out += '"';
  }
  out += ",\"Data\":\"";
  AppendBase64(out, r.data);
  out += "\"}";
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
