#include "remote/kinesis_client.h"

#include <httplib.h>  // CPPHTTPLIB_OPENSSL_SUPPORT comes from its pkg-config flags
#include <poll.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>

namespace kstream::remote {

namespace {

constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";
constexpr const char* kContentType = "application/x-amz-json-1.1";

// Placeholder credentials for a loopback endpoint when none are configured.
constexpr const char* kLocalKeyId = "kstream-local";
constexpr const char* kLocalSecret = "kstream-local-secret";

int64_t NowSeconds() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

void SleepInterruptibly(int ms) {
  if (ms > 0) ::poll(nullptr, 0, ms);  // EINTR on a signal ends it early
}

// The error of a non-2xx answer: {"__type": "...", "message": "..."}; the
// type may carry a "namespace#" prefix, kinesalite writes "Message".
ApiError ParseError(int status, const httplib::Headers& headers, const std::string& body) {
  ApiError e;
  e.http_status = status;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (!parser.parse(body).get(root) && root.is_object()) {
    std::string_view v;
    if (!root["__type"].get(v)) e.type = v;
    if (!root["message"].get(v) || !root["Message"].get(v)) e.message = v;
  }
  if (e.type.empty()) {
    auto it = headers.find("x-amzn-ErrorType");
    if (it != headers.end()) e.type = it->second.substr(0, it->second.find(':'));
  }
  if (const size_t hash = e.type.rfind('#'); hash != std::string::npos) e.type.erase(0, hash + 1);
  if (e.type.empty()) e.type = status >= 500 ? "InternalFailure" : "HTTP " + std::to_string(status);
  if (e.message.empty()) e.message = body.substr(0, 200);
  return e;
}

}  // namespace

std::string Endpoint::HostHeader() const {
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return default_port ? h : h + ":" + std::to_string(port);
}

std::string Endpoint::Url() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + h + ":" + std::to_string(port);
}

bool Endpoint::IsLoopback() const {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Result<Endpoint> ParseEndpoint(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("endpoint '" + std::string(url) + "' " + why);
  };
  Endpoint e;
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("needs a scheme: http://HOST:PORT or https://HOST");
  e.scheme = std::string(url.substr(0, sep));
  std::transform(e.scheme.begin(), e.scheme.end(), e.scheme.begin(), ::tolower);
  if (e.scheme != "http" && e.scheme != "https") return bad("must start with http:// or https://");
  std::string_view rest = url.substr(sep + 3);
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") return bad("must not have a path (the API is served at /)");
    rest = rest.substr(0, slash);
  }
  std::string_view port_text;
  if (!rest.empty() && rest[0] == '[') {  // [IPv6]:port
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed '['");
    e.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return bad("has text after ']'");
    if (!rest.empty()) port_text = rest.substr(1);
  } else {
    const size_t colon = rest.find(':');
    e.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (e.host.empty()) return bad("has no host");
  e.port = e.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    int p = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || p > 65535) return bad("has a bad port");
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return bad("has a bad port");
    e.port = p;
  }
  return e;
}

int BackoffMillis(const RetryPolicy& policy, int retry, std::mt19937_64& rng) {
  const int64_t ceiling =
      std::min<int64_t>(policy.cap_ms, int64_t(policy.base_ms) << std::min(retry, 20));
  return int(std::uniform_int_distribution<int64_t>(0, ceiling)(rng));
}

Result<ClientConfig> ConfigureClient(std::string_view url, const aws::EnvLookup& env) {
  ClientConfig c;
  KS_ASSIGN_OR_RETURN(c.endpoint, ParseEndpoint(url));
  KS_ASSIGN_OR_RETURN(aws::AwsConfig aws, aws::LoadAwsConfig(env));
  if (aws.credentials) {
    c.credentials = *aws.credentials;
  } else if (c.endpoint.IsLoopback()) {
    c.credentials = {kLocalKeyId, kLocalSecret, ""};
  } else {
    return Status::FailedPrecondition(
        "no AWS credentials for " + c.endpoint.Url() +
        ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials "
        "(AWS_PROFILE picks one)");
  }
  c.region = aws.region;
  if (c.region.empty()) c.region = aws::RegionFromHost(c.endpoint.host);
  if (c.region.empty()) c.region = "us-east-1";
  c.ca_bundle = env("AWS_CA_BUNDLE").value_or("");
  return c;
}

bool IsRetryableError(const ApiError& e) {
  if (e.http_status == 0 || e.http_status >= 500) return true;
  return e.type == "ProvisionedThroughputExceededException" || e.type == "ThrottlingException" ||
         e.type == "KMSThrottlingException" || e.type == "InternalFailure" ||
         e.type == "ServiceUnavailable" || e.type == "RequestTimeout";
}

Status ErrorStatus(std::string_view operation, const ApiError& e) {
  std::string m(operation);
  m += ": ";
  if (!e.type.empty()) m += e.type + ": ";
  m += e.message;
  const std::string& t = e.type;
  if (t == "ResourceNotFoundException") return Status::NotFound(m);
  if (t == "ResourceInUseException") return Status::FailedPrecondition(m);
  if (t == "InvalidArgumentException" || t == "ValidationException" ||
      t == "SerializationException" || t == "ExpiredIteratorException")
    return Status::InvalidArgument(m);
  if (t == "LimitExceededException" || t == "ProvisionedThroughputExceededException")
    return Status::LimitExceeded(m);
  if (t == "AccessDeniedException" || t == "UnrecognizedClientException" ||
      t == "InvalidSignatureException" || t == "IncompleteSignatureException" ||
      t == "MissingAuthenticationTokenException")
    return Status::FailedPrecondition(m);
  return Status::IOError(m);
}

struct KinesisClient::Http {
  explicit Http(const ClientConfig& c) : client(c.endpoint.Url()) {
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);  // a request's header and body go out in two writes
    client.set_connection_timeout(std::chrono::seconds(10));
    client.set_read_timeout(std::chrono::seconds(20));
    client.set_write_timeout(std::chrono::seconds(20));
    if (!c.ca_bundle.empty()) client.set_ca_cert_path(c.ca_bundle);
  }
  httplib::Client client;
};

KinesisClient::KinesisClient(ClientConfig config)
    : sleep(SleepInterruptibly),
      config_(std::move(config)),
      http_(std::make_unique<Http>(config_)),
      rng_(std::random_device{}()) {}

KinesisClient::~KinesisClient() = default;

Result<std::string> KinesisClient::CallOnce(std::string_view operation, const std::string& body,
                                            ApiError& error) {
  const std::string target = std::string(kTargetPrefix) + std::string(operation);
  aws::SignableRequest req;
  req.headers = {{"Host", config_.endpoint.HostHeader()},
                 {"Content-Type", kContentType},
                 {"X-Amz-Target", target}};
  req.body = body;
  KS_RETURN_IF_ERROR(
      aws::SignRequest(req, config_.credentials, config_.region, "kinesis", NowSeconds()));
  httplib::Headers headers;
  for (const auto& [k, v] : req.headers)
    if (k != "Content-Type") headers.emplace(k, v);  // httplib adds it from the argument
  httplib::Result res = http_->client.Post("/", headers, body, kContentType);
  if (!res) {
    error = {
        0, "",
        "no answer from " + config_.endpoint.Url() + " (" + httplib::to_string(res.error()) + ")"};
    return Status::IOError(std::string(operation) + ": " + error.message);
  }
  if (res->status / 100 == 2) return std::move(res->body);
  error = ParseError(res->status, res->headers, res->body);
  return ErrorStatus(operation, error);
}

Result<std::string> KinesisClient::Call(std::string_view operation, const std::string& body,
                                        ApiError* error) {
  ApiError last;
  for (int attempt = 0;; ++attempt) {
    Result<std::string> r = CallOnce(operation, body, last);
    if (r.ok() || !IsRetryableError(last) || attempt + 1 >= config_.retry.max_attempts) {
      if (!r.ok() && error) *error = last;
      if (!r.ok() && IsRetryableError(last))
        return r.status().Prefixed("gave up after " + std::to_string(attempt + 1) + " tries");
      return r;
    }
    sleep(BackoffMillis(config_.retry, attempt, rng_));
  }
}

}  // namespace kstream::remote
