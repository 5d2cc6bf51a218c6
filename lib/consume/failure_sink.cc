#include "consume/failure_sink.h"

#include <vector>

#include "core/text.h"
#include "io/record_writer.h"

namespace kstream {

std::string FailureReport(uint64_t shard, const RecordBatch::Record& r, const FailureInfo& info) {
  std::string j;
  AppendRecordEnvelope(j, shard, r);
  j.pop_back();  // the closing brace: the report's own fields follow
  j += ",\"Stream\":";
  AppendJsonString(j, info.stream);
  j += ",\"Group\":";
  AppendJsonString(j, info.group);
  j += ",\"ErrorMessage\":";
  AppendJsonString(j, info.error);
  j += ",\"Attempts\":" + std::to_string(info.attempts) + ",\"FailedAt\":\"" +
       FormatTimestamp(info.failed_ms) + "\"}";
  return j;
}

namespace {

class FileSink final : public FailureSink {
 public:
  explicit FileSink(std::unique_ptr<AppendFile> file) : file_(std::move(file)) {}
  Status Put(uint64_t shard, const RecordBatch& batch, size_t begin, size_t end,
             const FailureInfo& info) override {
    std::string text;
    for (size_t i = begin; i < end; ++i) text += FailureReport(shard, batch[i], info) + "\n";
    KS_RETURN_IF_ERROR(file_->Append(text));
    return file_->Sync();
  }
  std::string name() const override { return "failure file '" + file_->path() + "'"; }

 private:
  std::unique_ptr<AppendFile> file_;
};

class StreamSink final : public FailureSink {
 public:
  StreamSink(std::string stream, std::unique_ptr<StreamWriter> writer)
      : stream_(std::move(stream)), writer_(std::move(writer)) {}
  Status Put(uint64_t shard, const RecordBatch& batch, size_t begin, size_t end,
             const FailureInfo& info) override {
    std::vector<std::string> reports;
    std::vector<PutRecord> records;
    for (size_t i = begin; i < end; ++i) reports.push_back(FailureReport(shard, batch[i], info));
    for (size_t i = begin; i < end; ++i)
      records.push_back({batch[i].partition_key, reports[i - begin], batch[i].explicit_hash_key});
    std::vector<PutResult> results;
    KS_RETURN_IF_ERROR(writer_->Put(records, results).Prefixed("put into " + name()));
    return writer_->Sync();
  }
  std::string name() const override { return "stream '" + stream_ + "'"; }

 private:
  std::string stream_;
  std::unique_ptr<StreamWriter> writer_;
};

}  // namespace

Result<std::unique_ptr<FailureSink>> OpenFailureSink(const std::string& spec, Backend& backend,
                                                     Env* env) {
  constexpr std::string_view kStream = "stream:";
  if (spec.rfind(kStream, 0) == 0) {
    const std::string name = spec.substr(kStream.size());
    KS_RETURN_IF_ERROR(ValidateStreamName(name));
    KS_ASSIGN_OR_RETURN(auto writer, backend.OpenWriter(name, SyncMode::kBatch));
    return std::unique_ptr<FailureSink>(new StreamSink(name, std::move(writer)));
  }
  auto file = env->OpenAppend(spec, /*create=*/false);
  if (!file.ok() && file.status().code() == StatusCode::kNotFound) {
    file = env->OpenAppend(spec, /*create=*/true);
    if (!file.ok() && env->Exists(spec)) file = env->OpenAppend(spec, false);  // lost a race
  }
  if (!file.ok()) return file.status();
  return std::unique_ptr<FailureSink>(new FileSink(std::move(*file)));
}

}  // namespace kstream
