#include "serve/service.h"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/text.h"

namespace kstream::serve {

ApiError FromStatus(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound:
      return ApiError::NotFound(s.message());
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return ApiError::InUse(s.message());
    case StatusCode::kInvalidArgument:
      return ApiError::InvalidArgument(s.message());
    case StatusCode::kLimitExceeded:
      return ApiError::LimitExceeded(s.message());
    default:
      return ApiError::Internal(s.message());
  }
}

Service::Service(Backend* backend, ServiceOptions options)
    : backend_(backend), options_(std::move(options)) {}

Service::~Service() {
  EndSubscriptions();
  std::unique_lock<std::mutex> lock(subscriptions_mu_);
  subscriptions_done_.wait(lock, [&] { return subscription_threads_ == 0; });
}

const std::map<std::string_view, Service::Handler>& Service::Handlers() {
  static const std::map<std::string_view, Handler> handlers = {
      {"AddTagsToStream", &Service::AddTags},
      {"CreateStream", &Service::CreateStream},
      {"DecreaseStreamRetentionPeriod", &Service::DecreaseRetention},
      {"DeleteStream", &Service::DeleteStream},
      {"DeregisterStreamConsumer", &Service::DeregisterStreamConsumer},
      {"DescribeLimits", &Service::DescribeLimits},
      {"DescribeStream", &Service::DescribeStream},
      {"DescribeStreamConsumer", &Service::DescribeStreamConsumer},
      {"DescribeStreamSummary", &Service::DescribeStreamSummary},
      {"GetRecords", &Service::GetRecords},
      {"GetShardIterator", &Service::GetShardIterator},
      {"IncreaseStreamRetentionPeriod", &Service::IncreaseRetention},
      {"ListShards", &Service::ListShards},
      {"ListStreamConsumers", &Service::ListStreamConsumers},
      {"ListStreams", &Service::ListStreams},
      {"ListTagsForStream", &Service::ListTags},
      {"MergeShards", &Service::MergeShards},
      {"PutRecord", &Service::PutRecord},
      {"PutRecords", &Service::PutRecords},
      {"RegisterStreamConsumer", &Service::RegisterStreamConsumer},
      {"RemoveTagsFromStream", &Service::RemoveTags},
      {"SplitShard", &Service::SplitShard},
      {"SubscribeToShard", &Service::SubscribeWithoutStream},
      {"UpdateShardCount", &Service::UpdateShardCount},
  };
  return handlers;
}

std::vector<std::string_view> Service::Operations() {
  std::vector<std::string_view> names;
  for (const auto& [name, handler] : Handlers()) names.push_back(name);
  return names;
}

ApiStatus Service::Call(std::string_view operation, const Value& request, Writer& out) {
  const auto& handlers = Handlers();
  auto it = handlers.find(operation);
  if (it == handlers.end())
    return ApiError{"UnknownOperationException",
                    "Operation " + std::string(operation) + " is not supported by kstream-serve"};
  if (request.kind != Value::Kind::kObject)
    return ApiError::Serialization("The request body must be an object");
  return (this->*(it->second))(request, out);
}

int64_t Service::Now() const {
  if (options_.clock) return options_.clock();
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string Service::Arn(const std::string& stream) const {
  return "arn:aws:kinesis:" + options_.region + ":" + options_.account + ":stream/" + stream;
}

ApiError Service::StoreError(const Status& s, const std::string& stream) const {
  if (s.code() == StatusCode::kNotFound && s.message().rfind("shard ", 0) != 0)
    return ApiError::NotFound("Stream " + stream + " under account " + options_.account +
                              " not found.");
  if (s.code() == StatusCode::kAlreadyExists)
    return ApiError::InUse("Stream " + stream + " under account " + options_.account +
                           " already exists.");
  return FromStatus(s);
}

ApiOr<StreamMeta> Service::Meta(const std::string& stream) {
  auto meta = backend_->ListShards(stream);
  if (!meta.ok()) return StoreError(meta.status(), stream);
  return std::move(meta).value();
}

void Service::WriteShard(Writer& out, const ShardMeta& s) const {
  out.BeginObject();
  out.Key("ShardId");
  out.String(s.id());
  if (s.parent) {
    out.Key("ParentShardId");
    out.String(ShardIdFor(*s.parent));
  }
  if (s.adjacent_parent) {
    out.Key("AdjacentParentShardId");
    out.String(ShardIdFor(*s.adjacent_parent));
  }
  WriteHashKeyRange(out, s.start_hash, s.end_hash);
  out.Key("SequenceNumberRange");
  out.BeginObject();
  out.Key("StartingSequenceNumber");
  out.String(ToDecimal(s.starting_sequence()));
  if (!s.is_open()) {
    out.Key("EndingSequenceNumber");
    out.String(ToDecimal(MakeSequenceNumber(s.index, s.ending_counter.value_or(0))));
  }
  out.EndObject();
  out.EndObject();
}

// ---- the shared writer of each stream, with group commit ----

struct Service::SharedWriter {
  std::mutex mu;  // guards writer: appends and sync requests take turns
  std::unique_ptr<StreamWriter> writer;
};

Result<std::shared_ptr<Service::SharedWriter>> Service::WriterFor(const std::string& stream) {
  std::lock_guard<std::mutex> lock(writers_mu_);
  auto it = writers_.find(stream);
  if (it != writers_.end()) return it->second;
  KS_ASSIGN_OR_RETURN(auto writer, backend_->OpenWriter(stream, options_.sync));
  auto shared = std::make_shared<SharedWriter>();
  shared->writer = std::move(writer);
  writers_[stream] = shared;
  return shared;
}

void Service::DropWriters(const std::string& stream) {
  std::shared_ptr<SharedWriter> doomed;  // destroyed outside the lock
  std::lock_guard<std::mutex> lock(writers_mu_);
  auto it = writers_.find(stream);
  if (it == writers_.end()) return;
  doomed = std::move(it->second);
  writers_.erase(it);
}

namespace {

// Waits until the writer's sync ticket reaches `ticket`. The writer's sync
// thread pokes its event fd after each sync; several requests may wait at
// once, so whoever sees the poke drains it and the others also wake within
// a couple of milliseconds by timeout.
Status AwaitSync(std::mutex& mu, StreamWriter& writer, uint64_t ticket) {
  for (;;) {
    int fd;
    {
      std::lock_guard<std::mutex> lock(mu);
      KS_ASSIGN_OR_RETURN(uint64_t synced, writer.SyncedTicket());
      if (synced >= ticket) return Status::Ok();
      fd = writer.sync_event_fd();
    }
    if (fd < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2) > 0 && (p.revents & POLLIN)) {
      uint64_t count;
      (void)!::read(fd, &count, sizeof(count));  // non-blocking: another waiter may have drained it
    }
  }
}

}  // namespace

Status Service::Put(const std::string& stream, std::span<const kstream::PutRecord> records,
                    std::vector<PutResult>& results) {
  // A writer whose stream was deleted (and maybe re-created) by someone else
  // fails with kNotFound: retry once with a fresh one.
  for (int attempt = 0;; ++attempt) {
    KS_ASSIGN_OR_RETURN(auto shared, WriterFor(stream));
    Status s;
    uint64_t ticket = 0;
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      s = shared->writer->Put(records, results);
      if (s.ok()) {
        auto t = shared->writer->BeginSync();
        if (t.ok())
          ticket = *t;
        else
          s = t.status();
      }
    }
    if (s.ok()) s = AwaitSync(shared->mu, *shared->writer, ticket);
    if (s.ok()) return s;
    // A failed writer is not used again (a failed sync sticks to it).
    DropWriters(stream);
    if (s.code() != StatusCode::kNotFound || attempt > 0) return s;
  }
}

}  // namespace kstream::serve
