// RemoteBackend: the Backend interface over the Kinesis API of an endpoint
// (Amazon Kinesis Data Streams, kstream-serve, kinesalite), so every tool
// that works on the local store works on a remote stream unchanged.
//
// - Control calls (create, delete, reshard, retention) wait until the stream
//   is ACTIVE again (or gone), so a script's next command finds it ready.
// - The shard map comes from ListShards (paginated), falling back to
//   DescribeStream where ListShards is missing; sequence numbers are kept as
//   the service issued them (ShardMeta::reported_start/reported_end).
// - Writers send PutRecords of at most 500 records / 5 MiB and retry
//   throttled, failed and 5xx'd records with backoff and jitter; records of
//   one call are acknowledged only once all are in. Sync is a no-op: the
//   service acknowledges durable records.
// - Cursors read with GetShardIterator / GetRecords, at most 5 calls per
//   second per shard, one page ahead on a thread of their own while the
//   shard has a backlog, and renew an expired iterator where they left off.
// - Watch polls: it wakes a follower every poll interval.
//
// Not thread-safe; every object it returns talks through its own client.
#pragma once

#include <memory>
#include <string>

#include "remote/kinesis_client.h"
#include "store/backend.h"

namespace kstream::remote {

struct RemoteOptions {
  int follow_poll_ms = 500;             // a caught-up follower's GetRecords interval per shard
  int min_read_interval_ms = 200;       // per shard: the service's 5 GetRecords calls/s
  int wait_active_ms = 10 * 60 * 1000;  // how long control calls wait for ACTIVE
};

class RemoteBackend final : public Backend {
 public:
  RemoteBackend(ClientConfig config, RemoteOptions options = {});
  ~RemoteBackend() override;

  const Endpoint& endpoint() const { return config_.endpoint; }

  Status CreateStream(const std::string& name, int shard_count, int retention_hours) override;
  Status DeleteStream(const std::string& name) override;
  Result<std::vector<std::string>> ListStreams() override;
  Result<StreamDescription> DescribeStream(const std::string& name) override;
  Result<StreamMeta> ListShards(const std::string& name) override;
  Status SetRetention(const std::string& name, int hours) override;
  Result<std::unique_ptr<StreamWriter>> OpenWriter(const std::string& name, SyncMode sync) override;
  Result<std::unique_ptr<ShardCursor>> OpenCursor(const std::string& name, uint64_t shard_index,
                                                  const StartPosition& start) override;
  Result<std::unique_ptr<ChangeWatch>> Watch(const std::string& name) override;
  Status SplitShard(const std::string& name, uint64_t shard_index,
                    uint128 new_starting_hash_key) override;
  Status MergeShards(const std::string& name, uint64_t shard_index,
                     uint64_t adjacent_shard_index) override;

 private:
  // A call on stream `name`: ResourceNotFoundException becomes the same
  // "does not exist" message the local store gives.
  Result<std::string> StreamCall(std::string_view operation, const std::string& name,
                                 const std::string& body);
  // Polls DescribeStreamSummary until the stream is ACTIVE (or, with
  // gone, until it no longer exists).
  Status WaitForStream(const std::string& name, bool gone);
  Result<StreamMeta> DescribeAll(const std::string& name);

  ClientConfig config_;
  RemoteOptions options_;
  KinesisClient client_;
};

}  // namespace kstream::remote
