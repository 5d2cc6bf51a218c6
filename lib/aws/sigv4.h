// AWS Signature Version 4 (AWS4-HMAC-SHA256): signing a request as a client
// and verifying one as a server, with every step exposed (canonical request,
// string to sign, signing key, signature, the Authorization header) so each
// can be checked against the published AWS examples.
//
// Reference: "Create a signed AWS API request" and the aws-sig-v4-test-suite.
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace kstream::aws {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

// A request as SigV4 sees it. `path` and `query` are as sent on the wire
// (query without the '?'); header names may have any case and may repeat.
struct SignableRequest {
  std::string method = "POST";
  std::string path = "/";
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;

  // The first value of header `name` (case-insensitive), if present.
  std::optional<std::string_view> Header(std::string_view name) const;
  // Replaces every header named `name` (case-insensitive) by one value.
  void SetHeader(std::string_view name, std::string value);
};

// Building blocks (hex is lower case).
std::string HexEncode(std::string_view bytes);
std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);  // 32 raw bytes
// RFC 3986 encoding as SigV4 wants it: A-Z a-z 0-9 - _ . ~ kept, the rest
// %XX in upper case; '/' kept when keep_slash.
std::string UriEncode(std::string_view s, bool keep_slash);
std::string CanonicalUri(std::string_view path);
std::string CanonicalQuery(std::string_view query);

// The canonical request over the named headers (lower case, in any order;
// they are sorted). Fails if a named header is missing from the request.
Result<std::string> BuildCanonicalRequest(const SignableRequest& req,
                                          const std::vector<std::string>& signed_headers,
                                          std::string_view payload_hash);
// "<yyyymmdd>/<region>/<service>/aws4_request"
std::string CredentialScope(std::string_view date, std::string_view region,
                            std::string_view service);
std::string BuildStringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view canonical_request);
std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service);
std::string ComputeSignature(std::string_view signing_key, std::string_view string_to_sign);

// "20150830T123600Z" for an epoch second, and back.
std::string FormatAmzDate(int64_t epoch_seconds);
Result<int64_t> ParseAmzDate(std::string_view text);

// The Authorization header's fields.
struct Authorization {
  std::string access_key_id;
  std::string date;  // yyyymmdd
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;  // lower case, as listed
  std::string signature;                    // hex

  std::string Scope() const { return CredentialScope(date, region, service); }
};
Result<Authorization> ParseAuthorization(std::string_view header);
std::string FormatAuthorization(const Authorization& auth);

// Client side: sets X-Amz-Date (and X-Amz-Security-Token for a session
// token), then signs every header of the request plus those, and sets
// Authorization. The request must carry a Host header; every header name must
// be an HTTP token; a declared x-amz-content-sha256 must be UNSIGNED-PAYLOAD
// or the body's hash (it is the payload hash signed). Fails rather than
// produce a signature VerifyRequest would refuse.
Status SignRequest(SignableRequest& req, const Credentials& creds, std::string_view region,
                   std::string_view service, int64_t epoch_seconds);

// Server side. Each failure maps to the exception the service answers with.
enum class AuthFailure {
  kNone,
  kMissingToken,       // no Authorization header: MissingAuthenticationTokenException
  kIncomplete,         // malformed header or X-Amz-Date: IncompleteSignatureException
  kUnknownKey,         // access key not known: UnrecognizedClientException
  kSignatureMismatch,  // InvalidSignatureException
  kExpired,            // date too far from now: InvalidSignatureException
};
struct VerifyOutcome {
  AuthFailure failure = AuthFailure::kNone;
  std::string message;  // for the error body
  std::string access_key_id;
  bool ok() const { return failure == AuthFailure::kNone; }
};
std::string_view AuthFailureType(AuthFailure f);  // the error's __type

// Looks up the secret for an access key id; nullopt if the key is unknown.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

// Checks the request's Authorization against the secret of its access key:
// the payload hash is SHA-256 of req.body (or the signed x-amz-content-sha256
// when it says UNSIGNED-PAYLOAD), the date must be within max_skew_seconds of
// now_seconds.
VerifyOutcome VerifyRequest(const SignableRequest& req, const SecretLookup& secret_for,
                            int64_t now_seconds, int64_t max_skew_seconds = 15 * 60);

}  // namespace kstream::aws
