#include "aws/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>

namespace kstream::aws {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Header values are signed trimmed, with runs of spaces folded to one.
std::string CanonicalHeaderValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out += char(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool IsHexSignature(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// RFC 9110 token characters: the only ones a header name may hold. A name
// with ';' or ',' would split differently when SignedHeaders is parsed, so
// a signature over it could never verify.
bool IsHttpToken(std::string_view s) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kSymbols.find(c) != kSymbols.npos;
  });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string_view> SignableRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

void SignableRequest::SetHeader(std::string_view name, std::string value) {
  std::erase_if(headers, [&](const auto& h) { return EqualsIgnoreCase(h.first, name); });
  headers.emplace_back(std::string(name), std::move(value));
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return HexEncode({reinterpret_cast<const char*>(digest), len});
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += char(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

// Services other than S3 sign the path as sent, encoded once more (the
// "encoded twice" rule of the documentation; botocore does the same).
std::string CanonicalUri(std::string_view path) {
  if (path.empty()) return "/";
  return UriEncode(path, /*keep_slash=*/true);
}

std::string CanonicalQuery(std::string_view query) {
  if (query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> params;
  for (std::string_view part : Split(query, '&')) {
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    const std::string_view name = part.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
    params.emplace_back(UriEncode(PercentDecode(name), false),
                        UriEncode(PercentDecode(value), false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

Result<std::string> BuildCanonicalRequest(const SignableRequest& req,
                                          const std::vector<std::string>& signed_headers,
                                          std::string_view payload_hash) {
  // Values of repeated headers are joined with commas, in request order.
  std::map<std::string, std::string> canonical;
  for (const std::string& name : signed_headers) canonical[Lower(name)];
  for (const auto& [k, v] : req.headers) {
    auto it = canonical.find(Lower(k));
    if (it == canonical.end()) continue;
    if (!it->second.empty()) it->second += ',';
    it->second += CanonicalHeaderValue(v);
  }
  std::string names;
  std::string headers;
  for (const auto& [name, value] : canonical) {
    if (!req.Header(name))
      return Status::InvalidArgument("signed header '" + name + "' is missing");
    if (!names.empty()) names += ';';
    names += name;
    headers += name + ':' + value + '\n';
  }
  std::string out = req.method + '\n' + CanonicalUri(req.path) + '\n' + CanonicalQuery(req.query) +
                    '\n' + headers + '\n' + names + '\n';
  out += payload_hash;
  return out;
}

std::string CredentialScope(std::string_view date, std::string_view region,
                            std::string_view service) {
  std::string out(date);
  out += '/';
  out += region;
  out += '/';
  out += service;
  out += "/aws4_request";
  return out;
}

std::string BuildStringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view canonical_request) {
  std::string out(kSigV4Algorithm);
  out += '\n';
  out += amz_date;
  out += '\n';
  out += scope;
  out += '\n';
  out += Sha256Hex(canonical_request);
  return out;
}

std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service) {
  const std::string k_date = HmacSha256("AWS4" + std::string(secret), date);
  const std::string k_region = HmacSha256(k_date, region);
  const std::string k_service = HmacSha256(k_region, service);
  return HmacSha256(k_service, "aws4_request");
}

std::string ComputeSignature(std::string_view signing_key, std::string_view string_to_sign) {
  return HexEncode(HmacSha256(signing_key, string_to_sign));
}

std::string FormatAmzDate(int64_t epoch_seconds) {
  const time_t t = time_t(epoch_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  // Not strftime's %Y: it does not pad years before 1000 to four digits.
  char buf[48];
  snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Result<int64_t> ParseAmzDate(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("X-Amz-Date '" + std::string(text) +
                                   "' is not of the form yyyymmddThhmmssZ");
  };
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return bad();
  int v[6];
  const int at[6] = {0, 4, 6, 9, 11, 13};
  const int len[6] = {4, 2, 2, 2, 2, 2};
  for (int i = 0; i < 6; ++i) {
    v[i] = 0;
    for (int j = 0; j < len[i]; ++j) {
      const char c = text[size_t(at[i] + j)];
      if (c < '0' || c > '9') return bad();
      v[i] = v[i] * 10 + (c - '0');
    }
  }
  if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60) {
    return bad();
  }
  struct tm tm {};
  tm.tm_year = v[0] - 1900;
  tm.tm_mon = v[1] - 1;
  tm.tm_mday = v[2];
  tm.tm_hour = v[3];
  tm.tm_min = v[4];
  tm.tm_sec = v[5];
  return int64_t(timegm(&tm));
}

Result<Authorization> ParseAuthorization(std::string_view header) {
  auto bad = [](const std::string& why) {
    return Status::InvalidArgument("Authorization header is malformed: " + why);
  };
  header = Trim(header);
  if (header.substr(0, kSigV4Algorithm.size()) != kSigV4Algorithm ||
      header.size() == kSigV4Algorithm.size() || header[kSigV4Algorithm.size()] != ' ') {
    return bad("it does not start with " + std::string(kSigV4Algorithm));
  }
  header.remove_prefix(kSigV4Algorithm.size() + 1);
  Authorization auth;
  std::string_view credential, signed_headers, signature;
  for (std::string_view part : Split(header, ',')) {
    part = Trim(part);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) return bad("'" + std::string(part) + "' has no '='");
    const std::string_view key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "Credential")
      credential = value;
    else if (key == "SignedHeaders")
      signed_headers = value;
    else if (key == "Signature")
      signature = value;
    else
      return bad("unknown field '" + std::string(key) + "'");
  }
  if (credential.empty() || signed_headers.empty() || signature.empty()) {
    return bad("Credential, SignedHeaders and Signature are all required");
  }
  const std::vector<std::string_view> scope = Split(credential, '/');
  if (scope.size() != 5 || scope[4] != "aws4_request" || scope[0].empty() || scope[1].size() != 8 ||
      scope[2].empty() || scope[3].empty()) {
    return bad("Credential must be <key>/<yyyymmdd>/<region>/<service>/aws4_request");
  }
  auth.access_key_id = scope[0];
  auth.date = scope[1];
  auth.region = scope[2];
  auth.service = scope[3];
  for (std::string_view name : Split(signed_headers, ';')) {
    if (name.empty()) return bad("SignedHeaders has an empty name");
    auth.signed_headers.emplace_back(name);
  }
  if (!IsHexSignature(signature)) return bad("Signature must be 64 lower-case hex digits");
  auth.signature = signature;
  return auth;
}

std::string FormatAuthorization(const Authorization& auth) {
  std::string out(kSigV4Algorithm);
  out += " Credential=" + auth.access_key_id + '/' + auth.Scope() + ", SignedHeaders=";
  for (size_t i = 0; i < auth.signed_headers.size(); ++i) {
    if (i) out += ';';
    out += auth.signed_headers[i];
  }
  out += ", Signature=" + auth.signature;
  return out;
}

Status SignRequest(SignableRequest& req, const Credentials& creds, std::string_view region,
                   std::string_view service, int64_t epoch_seconds) {
  if (!req.Header("host")) return Status::InvalidArgument("cannot sign a request without Host");
  for (const auto& h : req.headers) {
    if (!IsHttpToken(h.first))
      return Status::InvalidArgument("cannot sign header '" + h.first +
                                     "': a header name is an HTTP token");
  }
  // A declared payload hash is what gets signed (the SDKs do the same), so it
  // must be the body's or UNSIGNED-PAYLOAD, which VerifyRequest accepts.
  std::string payload_hash = Sha256Hex(req.body);
  if (const auto declared = req.Header("x-amz-content-sha256")) {
    if (*declared == kUnsignedPayload)
      payload_hash = kUnsignedPayload;
    else if (*declared != payload_hash)
      return Status::InvalidArgument("x-amz-content-sha256 does not match the request body");
  }
  const std::string amz_date = FormatAmzDate(epoch_seconds);
  req.SetHeader("X-Amz-Date", amz_date);
  if (!creds.session_token.empty()) req.SetHeader("X-Amz-Security-Token", creds.session_token);
  std::erase_if(req.headers,
                [](const auto& h) { return EqualsIgnoreCase(h.first, "authorization"); });

  Authorization auth;
  auth.access_key_id = creds.access_key_id;
  auth.date = amz_date.substr(0, 8);
  auth.region = region;
  auth.service = service;
  for (const auto& h : req.headers) auth.signed_headers.push_back(Lower(h.first));
  std::sort(auth.signed_headers.begin(), auth.signed_headers.end());
  auth.signed_headers.erase(std::unique(auth.signed_headers.begin(), auth.signed_headers.end()),
                            auth.signed_headers.end());
  KS_ASSIGN_OR_RETURN(const std::string canonical,
                      BuildCanonicalRequest(req, auth.signed_headers, payload_hash));
  const std::string to_sign = BuildStringToSign(amz_date, auth.Scope(), canonical);
  auth.signature = ComputeSignature(
      DeriveSigningKey(creds.secret_access_key, auth.date, region, service), to_sign);
  req.headers.emplace_back("Authorization", FormatAuthorization(auth));
  return Status::Ok();
}

std::string_view AuthFailureType(AuthFailure f) {
  switch (f) {
    case AuthFailure::kNone:
      return "";
    case AuthFailure::kMissingToken:
      return "MissingAuthenticationTokenException";
    case AuthFailure::kIncomplete:
      return "IncompleteSignatureException";
    case AuthFailure::kUnknownKey:
      return "UnrecognizedClientException";
    case AuthFailure::kSignatureMismatch:
    case AuthFailure::kExpired:
      return "InvalidSignatureException";
  }
  return "InvalidSignatureException";
}

VerifyOutcome VerifyRequest(const SignableRequest& req, const SecretLookup& secret_for,
                            int64_t now_seconds, int64_t max_skew_seconds) {
  auto fail = [](AuthFailure f, std::string message) {
    VerifyOutcome out;
    out.failure = f;
    out.message = std::move(message);
    return out;
  };
  const auto header = req.Header("authorization");
  if (!header) return fail(AuthFailure::kMissingToken, "Missing Authentication Token");
  Result<Authorization> auth = ParseAuthorization(*header);
  if (!auth.ok()) return fail(AuthFailure::kIncomplete, auth.status().message());
  // HTTP/2 has no Host header: clients sign its ":authority" instead.
  const auto& names = auth->signed_headers;
  if (std::find(names.begin(), names.end(), "host") == names.end() &&
      std::find(names.begin(), names.end(), ":authority") == names.end()) {
    return fail(AuthFailure::kIncomplete,
                "SignedHeaders must include host (or :authority over HTTP/2)");
  }
  const auto date_header = req.Header("x-amz-date");
  if (!date_header) return fail(AuthFailure::kIncomplete, "X-Amz-Date header is missing");
  Result<int64_t> when = ParseAmzDate(*date_header);
  if (!when.ok()) return fail(AuthFailure::kIncomplete, when.status().message());
  if (date_header->substr(0, 8) != auth->date) {
    return fail(AuthFailure::kSignatureMismatch, "Credential date " + auth->date +
                                                     " does not match X-Amz-Date " +
                                                     std::string(*date_header));
  }
  if (*when < now_seconds - max_skew_seconds || *when > now_seconds + max_skew_seconds) {
    return fail(AuthFailure::kExpired, "Signature expired: " + std::string(*date_header) +
                                           " is not within " + std::to_string(max_skew_seconds) +
                                           " seconds of " + FormatAmzDate(now_seconds) + ".");
  }
  const std::optional<std::string> secret = secret_for(auth->access_key_id);
  if (!secret) {
    return fail(AuthFailure::kUnknownKey, "The security token included in the request is invalid.");
  }

  std::string payload_hash = Sha256Hex(req.body);
  if (const auto declared = req.Header("x-amz-content-sha256")) {
    if (*declared == kUnsignedPayload) {
      payload_hash = kUnsignedPayload;
    } else if (*declared != payload_hash) {
      return fail(AuthFailure::kSignatureMismatch,
                  "x-amz-content-sha256 does not match the request body");
    }
  }
  Result<std::string> canonical = BuildCanonicalRequest(req, auth->signed_headers, payload_hash);
  if (!canonical.ok()) return fail(AuthFailure::kIncomplete, canonical.status().message());
  const std::string expected =
      ComputeSignature(DeriveSigningKey(*secret, auth->date, auth->region, auth->service),
                       BuildStringToSign(*date_header, auth->Scope(), *canonical));
  if (CRYPTO_memcmp(expected.data(), auth->signature.data(), expected.size()) != 0) {
    return fail(AuthFailure::kSignatureMismatch,
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method.");
  }
  VerifyOutcome ok;
  ok.access_key_id = auth->access_key_id;
  return ok;
}

}  // namespace kstream::aws
