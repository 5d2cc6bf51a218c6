// KinesisClient: calls of the Kinesis JSON 1.1 API (POST /, X-Amz-Target
// Kinesis_20131202.<Operation>, application/x-amz-json-1.1), SigV4-signed,
// over http or https (cpp-httplib with OpenSSL), to Amazon Kinesis Data
// Streams or any compatible endpoint (kstream-serve, kinesalite).
//
// Throttling, 5xx answers and transport errors are retried with exponential
// backoff and full jitter; other errors come back at once as a Status whose
// code follows the service's error type. Not thread-safe: one per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "core/status.h"

namespace kstream::remote {

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;
  // The Host header: the port only when it is not the scheme's default.
  std::string HostHeader() const;
  std::string Url() const;  // scheme://host[:port]
  bool IsLoopback() const;  // 127.0.0.0/8, ::1, localhost
};
// "http://127.0.0.1:4567", "https://kinesis.eu-west-1.amazonaws.com" (a path
// of "/" is allowed, nothing else after the host).
Result<Endpoint> ParseEndpoint(std::string_view url);

struct RetryPolicy {
  int max_attempts = 5;  // tries of one call, the first included
  int base_ms = 100;     // the first backoff's ceiling; doubles per retry
  int cap_ms = 5000;
};

// Full jitter: uniform in [0, min(cap, base * 2^retry)] (retry counts from 0).
int BackoffMillis(const RetryPolicy& policy, int retry, std::mt19937_64& rng);

// How a writer paces and gives up on records, with the KPL's names.
struct PutPolicy {
  // RateLimit: records and bytes sent to one shard per second, in percent of
  // the shard's limits (1,000 records/s, 1 MiB/s); 0 turns it off.
  int rate_limit_pct = 150;
  int64_t record_ttl_ms = 30000;   // RecordTtl: a record not in by then fails
  bool fail_if_throttled = false;  // FailIfThrottled: throttled records fail at once
};

struct ClientConfig {
  Endpoint endpoint;
  aws::Credentials credentials;
  std::string region;
  std::string ca_bundle;  // AWS_CA_BUNDLE; empty: the system's
  RetryPolicy retry;
  PutPolicy put;
};

// Endpoint, credentials and region for a URL from the usual AWS sources.
// Without credentials, a loopback endpoint gets placeholder ones (local
// services accept any signature unless told otherwise); any other fails.
Result<ClientConfig> ConfigureClient(std::string_view url, const aws::EnvLookup& env);

// What the service said about a failed call.
struct ApiError {
  int http_status = 0;  // 0: no answer (transport error)
  std::string type;     // "ResourceNotFoundException", ... ("" for transport errors)
  std::string message;
};

bool IsRetryableError(const ApiError& e);
// The Status for an error of `operation`: the code follows e.type.
Status ErrorStatus(std::string_view operation, const ApiError& e);

class KinesisClient {
 public:
  explicit KinesisClient(ClientConfig config);
  ~KinesisClient();
  KinesisClient(const KinesisClient&) = delete;
  KinesisClient& operator=(const KinesisClient&) = delete;

  // Calls `operation` with a JSON body and returns the answer's body. On
  // failure, *error (when given) holds the last error the service gave.
  Result<std::string> Call(std::string_view operation, const std::string& body,
                           ApiError* error = nullptr);
  // One try, no retry (for callers with their own retry policy).
  Result<std::string> CallOnce(std::string_view operation, const std::string& body,
                               ApiError& error);

  const ClientConfig& config() const { return config_; }
  std::mt19937_64& rng() { return rng_; }
  // Sleeps ms, returning early when a signal arrives (so a stop request is
  // seen at once). Tests may replace it.
  std::function<void(int ms)> sleep;

 private:
  struct Http;
  ClientConfig config_;
  std::unique_ptr<Http> http_;
  std::mt19937_64 rng_;
};

}  // namespace kstream::remote
