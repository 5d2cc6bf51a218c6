// Enhanced fan-out consumers: RegisterStreamConsumer, DescribeStreamConsumer,
// ListStreamConsumers, DeregisterStreamConsumer. A consumer lives in its
// stream's metadata (StreamMeta::consumers), so it is durable, written
// atomically, and deleted with the stream.
#include <algorithm>

#include "core/text.h"
#include "serve/request.h"
#include "serve/service.h"
#include "serve/tokens.h"

namespace kstream::serve {
namespace {

constexpr char kConsumerArnPattern[] =
    "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/"
    "[a-zA-Z0-9_.-]+:[0-9]+";

bool NameChars(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

ApiError ArnPatternError(std::string_view arn) {
  return ConstraintError("'" + std::string(arn.substr(0, 256)) + "'", "consumerARN",
                         std::string("satisfy regular expression pattern: ") + kConsumerArnPattern);
}

// A consumer ARN taken apart:
// arn:aws...:kinesis:<region>:<account>:stream/<stream>/consumer/<name>:<seconds>.
struct ConsumerArnParts {
  std::string stream;
  std::string name;
  int64_t created_s = 0;
};

ApiOr<ConsumerArnParts> ParseConsumerArn(std::string_view arn) {
  // Checked from both ends, as the pattern anchors at "arn:aws" and the digits.
  const size_t stream_at = arn.find(":stream/");
  const size_t consumer_at = arn.rfind("/consumer/");
  const size_t colon = arn.rfind(':');
  if (arn.substr(0, 7) != "arn:aws" || arn.find(":kinesis:") == std::string_view::npos ||
      stream_at == std::string_view::npos || consumer_at == std::string_view::npos ||
      consumer_at < stream_at + 8 || colon == std::string_view::npos || colon < consumer_at)
    return ArnPatternError(arn);
  ConsumerArnParts parts;
  parts.stream = std::string(arn.substr(stream_at + 8, consumer_at - stream_at - 8));
  parts.name = std::string(arn.substr(consumer_at + 10, colon - consumer_at - 10));
  const std::string_view digits = arn.substr(colon + 1);
  if (!NameChars(parts.stream) || !NameChars(parts.name) || digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return ArnPatternError(arn);
  parts.created_s = std::stoll(std::string(digits));
  return parts;
}

ApiOr<std::string_view> ConsumerNameOf(const Value& req) {
  API_ASSIGN_OR_RETURN(auto name, RequiredString(req, "ConsumerName", 1, 128));
  if (!NameChars(name))
    return ConstraintError("'" + std::string(name) + "'", "consumerName",
                           "satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
  return name;
}

}  // namespace

std::string Service::ConsumerArn(const std::string& stream, const ConsumerMeta& c) const {
  return Arn(stream) + "/consumer/" + c.name + ":" + std::to_string(c.created_ms / 1000);
}

bool Service::ConsumerGone(const ConsumerMeta& c, int64_t now) {
  return c.deleting_ms && now - *c.deleting_ms >= kConsumerDeletingMs;
}

size_t Service::LiveConsumers(const StreamMeta& meta, int64_t now) {
  return size_t(std::count_if(meta.consumers.begin(), meta.consumers.end(),
                              [&](const ConsumerMeta& c) { return !ConsumerGone(c, now); }));
}

void Service::WriteConsumer(Writer& out, const std::string& stream, const ConsumerMeta& c,
                            std::string_view status, bool with_stream_arn) const {
  out.BeginObject();
  out.Key("ConsumerName");
  out.String(c.name);
  out.Key("ConsumerARN");
  out.String(ConsumerArn(stream, c));
  out.Key("ConsumerStatus");
  out.String(status);
  out.Key("ConsumerCreationTimestamp");
  out.Timestamp(c.created_ms);
  if (with_stream_arn) {
    out.Key("StreamARN");
    out.String(Arn(stream));
  }
  out.EndObject();
}

ApiOr<Service::FoundConsumer> Service::FindConsumer(const Value& req) {
  API_ASSIGN_OR_RETURN(auto arn, OptionalString(req, "ConsumerARN", 1, 2048));
  API_ASSIGN_OR_RETURN(auto name, OptionalString(req, "ConsumerName", 1, 128));
  API_ASSIGN_OR_RETURN(auto stream_arn, OptionalString(req, "StreamARN", 1, 2048));
  FoundConsumer found;
  std::optional<int64_t> created_s;
  std::string wanted;
  if (arn) {
    API_ASSIGN_OR_RETURN(ConsumerArnParts parts, ParseConsumerArn(*arn));
    found.stream = parts.stream;
    wanted = parts.name;
    created_s = parts.created_s;
    if (name && *name != wanted)
      return ApiError::InvalidArgument("ConsumerName '" + std::string(*name) +
                                       "' and ConsumerARN '" + std::string(*arn) +
                                       "' name different consumers");
  } else {
    if (!stream_arn || !name)
      return ApiError::InvalidArgument(
          "Either ConsumerARN or both ConsumerName and StreamARN should be provided.");
    API_ASSIGN_OR_RETURN(std::string_view checked, ConsumerNameOf(req));
    wanted = std::string(checked);
  }
  if (stream_arn) {
    Value only_arn;
    only_arn.kind = Value::Kind::kObject;
    only_arn.members.emplace_back("StreamARN", *req.Find("StreamARN"));
    API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(only_arn));
    if (arn && stream != found.stream)
      return ApiError::InvalidArgument("StreamARN '" + std::string(*stream_arn) +
                                       "' and ConsumerARN '" + std::string(*arn) +
                                       "' name different streams");
    found.stream = stream;
  }
  const std::string shown = arn ? std::string(*arn) : wanted;
  auto not_found = [&] {
    return ApiError::NotFound("Consumer " + shown + " under account " + options_.account +
                              " not found.");
  };
  auto meta = backend_->ListShards(found.stream);
  if (!meta.ok()) {
    if (meta.status().code() == StatusCode::kNotFound) return not_found();
    return StoreError(meta.status(), found.stream);
  }
  const int64_t now = Now();
  for (const ConsumerMeta& c : meta->consumers) {
    if (c.name != wanted || ConsumerGone(c, now)) continue;
    if (created_s && *created_s != c.created_ms / 1000) break;  // an earlier one of that name
    found.consumer = c;
    found.status = c.deleting_ms ? "DELETING" : "ACTIVE";
    found.meta = std::move(meta).value();
    return found;
  }
  return not_found();
}

ApiStatus Service::RegisterStreamConsumer(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(auto stream_arn, RequiredString(req, "StreamARN", 1, 2048));
  (void)stream_arn;
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(std::string_view name, ConsumerNameOf(req));
  const int64_t now = Now();
  ConsumerMeta added;
  added.name = std::string(name);
  added.created_ms = now;
  ApiStatus refused;
  Status s = backend_->UpdateConsumers(stream, [&](std::vector<ConsumerMeta>& consumers) {
    std::erase_if(consumers, [&](const ConsumerMeta& c) { return ConsumerGone(c, now); });
    for (const ConsumerMeta& c : consumers) {
      if (c.name != name) continue;
      refused = ApiError::InUse("Consumer " + ConsumerArn(stream, c) + " under account " +
                                options_.account + " already exists.");
      return Status::AlreadyExists("consumer exists");
    }
    if (consumers.size() >= kMaxConsumersPerStream) {
      refused = ApiError::LimitExceeded(
          "Stream " + stream + " under account " + options_.account + " has reached its limit of " +
          std::to_string(kMaxConsumersPerStream) + " registered consumers.");
      return Status::LimitExceeded("too many consumers");
    }
    consumers.push_back(added);
    return Status::Ok();
  });
  if (!refused.ok()) return refused;
  if (!s.ok()) return StoreError(s, stream);
  out.BeginObject();
  out.Key("Consumer");
  // The service answers CREATING and turns the consumer ACTIVE a few seconds
  // later; here it is ACTIVE as soon as it is stored (see DescribeStreamConsumer).
  WriteConsumer(out, stream, added, "CREATING", false);
  out.EndObject();
  return {};
}

ApiStatus Service::DescribeStreamConsumer(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(FoundConsumer found, FindConsumer(req));
  out.BeginObject();
  out.Key("ConsumerDescription");
  WriteConsumer(out, found.stream, found.consumer, found.status, true);
  out.EndObject();
  return {};
}

ApiStatus Service::ListStreamConsumers(const Value& req, Writer& out) {
  API_ASSIGN_OR_RETURN(auto stream_arn, RequiredString(req, "StreamARN", 1, 2048));
  (void)stream_arn;
  API_ASSIGN_OR_RETURN(std::string stream, StreamNameOf(req));
  API_ASSIGN_OR_RETURN(auto max_results, OptionalInt(req, "MaxResults", 1, 10000));
  API_ASSIGN_OR_RETURN(auto token, OptionalString(req, "NextToken", 1, 1048576));
  API_ASSIGN_OR_RETURN(auto created,
                       OptionalTimestamp(req, "StreamCreationTimestamp", out.encoding()));
  const int64_t now = Now();
  std::string after;
  if (token) {
    API_ASSIGN_OR_RETURN(PageToken page, DecodePageToken(*token, now));
    if (page.stream != stream)
      return ApiError::InvalidArgument("NextToken belongs to another stream than " + stream);
    after = page.after;
  }
  API_ASSIGN_OR_RETURN(StreamMeta meta, Meta(stream));
  if (created && *created / 1000 != meta.created_ms / 1000)
    return StoreError(Status::NotFound("stream"), stream);
  std::vector<const ConsumerMeta*> listed;
  for (const ConsumerMeta& c : meta.consumers)
    if (!ConsumerGone(c, now) && c.name > after) listed.push_back(&c);
  std::sort(listed.begin(), listed.end(),
            [](const ConsumerMeta* a, const ConsumerMeta* b) { return a->name < b->name; });
  const size_t page_size = size_t(std::min<int64_t>(max_results.value_or(100), 100));
  out.BeginObject();
  out.Key("Consumers");
  out.BeginArray();
  for (size_t i = 0; i < listed.size() && i < page_size; ++i)
    WriteConsumer(out, stream, *listed[i], listed[i]->deleting_ms ? "DELETING" : "ACTIVE", false);
  out.EndArray();
  if (listed.size() > page_size) {
    PageToken next;
    next.stream = stream;
    next.after = listed[page_size - 1]->name;
    next.issued_ms = now;
    out.Key("NextToken");
    out.String(EncodePageToken(next));
  }
  out.EndObject();
  return {};
}

ApiStatus Service::DeregisterStreamConsumer(const Value& req, Writer&) {
  API_ASSIGN_OR_RETURN(FoundConsumer found, FindConsumer(req));
  const int64_t now = Now();
  const std::string arn = ConsumerArn(found.stream, found.consumer);
  if (!found.consumer.deleting_ms) {
    Status s = backend_->UpdateConsumers(found.stream, [&](std::vector<ConsumerMeta>& consumers) {
      std::erase_if(consumers, [&](const ConsumerMeta& c) { return ConsumerGone(c, now); });
      for (ConsumerMeta& c : consumers)
        if (c.name == found.consumer.name && c.created_ms == found.consumer.created_ms &&
            !c.deleting_ms)
          c.deleting_ms = now;
      return Status::Ok();
    });
    if (!s.ok()) return StoreError(s, found.stream);
  }
  StopSubscriptions(found.stream, arn,
                    ApiError::NotFound("Consumer " + arn + " under account " + options_.account +
                                       " was deregistered."));
  return {};
}

}  // namespace kstream::serve
