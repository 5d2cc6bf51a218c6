// --require-auth: SigV4 verification of every request against the access
// keys of an AWS shared credentials file (every section's
// aws_access_key_id / aws_secret_access_key), with the service's errors.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "serve/api_error.h"

namespace kstream::serve {

class KeyRing {
 public:
  // Reads `path` ("[name]" sections with aws_access_key_id and
  // aws_secret_access_key). Fails if it is unreadable, malformed or holds no key.
  static Result<KeyRing> Load(const std::string& path);
  void Add(std::string access_key_id, std::string secret) {
    secrets_[std::move(access_key_id)] = std::move(secret);
  }
  std::optional<std::string> SecretFor(std::string_view access_key_id) const;
  size_t size() const { return secrets_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> secrets_;
};

// A request as it came in: method, raw target (path and query), headers and body.
struct SignedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
};

// Ok when the request's SigV4 signature is valid for a known key and dated
// within 15 minutes of now; else MissingAuthenticationTokenException (403),
// IncompleteSignatureException, UnrecognizedClientException or
// InvalidSignatureException (400).
ApiStatus VerifySignature(const KeyRing& keys, const SignedRequest& request, int64_t now_seconds);

}  // namespace kstream::serve
