#include "serve/auth.h"

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "core/env.h"

namespace kstream::serve {

Result<KeyRing> KeyRing::Load(const std::string& path) {
  KS_ASSIGN_OR_RETURN(std::string text, Env::Default()->ReadWholeFile(path));
  KS_ASSIGN_OR_RETURN(aws::IniSections ini, aws::ParseIni(text, path));
  KeyRing keys;
  for (const auto& [section, values] : ini) {
    if (!values.count("aws_access_key_id")) continue;
    KS_ASSIGN_OR_RETURN(aws::Credentials c, aws::CredentialsFromSection(ini, section, path));
    if (c.secret_access_key.empty())
      return Status::InvalidArgument(path + ": [" + section + "] has no aws_secret_access_key");
    keys.Add(c.access_key_id, c.secret_access_key);
  }
  if (keys.size() == 0)
    return Status::InvalidArgument(path + ": no aws_access_key_id in any section");
  return keys;
}

std::optional<std::string> KeyRing::SecretFor(std::string_view access_key_id) const {
  auto it = secrets_.find(access_key_id);
  if (it == secrets_.end()) return std::nullopt;
  return it->second;
}

ApiStatus VerifySignature(const KeyRing& keys, const SignedRequest& request, int64_t now_seconds) {
  aws::SignableRequest req;
  req.method = request.method;
  const size_t q = request.target.find('?');
  req.path = request.target.substr(0, q);
  if (q != std::string::npos) req.query = request.target.substr(q + 1);
  req.headers = request.headers;
  req.body = request.body;
  const aws::VerifyOutcome outcome = aws::VerifyRequest(
      req, [&](std::string_view key) { return keys.SecretFor(key); }, now_seconds);
  if (outcome.ok()) return {};
  ApiError e{std::string(aws::AuthFailureType(outcome.failure)), outcome.message};
  if (outcome.failure == aws::AuthFailure::kMissingToken) e.http_status = 403;
  return e;
}

}  // namespace kstream::serve
