// SigV4 on untrusted bytes: the Authorization header parser (a parsed header
// formats back to one that parses the same), X-Amz-Date, the shared
// credentials file (INI), and VerifyRequest on a request whose headers come
// from the input; a request SignRequest accepts always verifies.
#include <stdint.h>

#include <string>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "fuzz_util.h"

using namespace kstream;
using namespace kstream::aws;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto auth = ParseAuthorization(text); auth.ok()) {
    auto again = ParseAuthorization(FormatAuthorization(*auth));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->access_key_id == auth->access_key_id && again->Scope() == auth->Scope() &&
               again->signed_headers == auth->signed_headers &&
               again->signature == auth->signature);
  }
  if (auto t = ParseAmzDate(text); t.ok()) {
    auto again = ParseAmzDate(FormatAmzDate(*t));
    FUZZ_CHECK(again.ok() && *again == *t);
  }
  (void)ParseIni(text, "fuzz");

  // A request whose header lines ("name: value") and body come from the input.
  SignableRequest req;
  req.path = "/";
  const size_t blank = text.find("\n\n");
  std::string_view head = text.substr(0, blank);
  req.body = blank == std::string_view::npos ? std::string_view() : text.substr(blank + 2);
  size_t start = 0;
  while (start < head.size()) {
    size_t end = head.find('\n', start);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(start, end - start);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos)
      req.headers.emplace_back(std::string(line.substr(0, colon)),
                               std::string(line.substr(colon + 1)));
    start = end + 1;
  }
  const auto secret = [](std::string_view key) -> std::optional<std::string> {
    if (key == "AKIDEXAMPLE") return std::string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    return std::nullopt;
  };
  (void)VerifyRequest(req, secret, 1440938160);

  // Signed here, it verifies (whatever else the headers hold).
  req.SetHeader("Host", "127.0.0.1");
  Credentials creds;
  creds.access_key_id = "AKIDEXAMPLE";
  creds.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  if (SignRequest(req, creds, "us-east-1", "kinesis", 1440938160).ok()) {
    const VerifyOutcome outcome = VerifyRequest(req, secret, 1440938160);
    FUZZ_CHECK(outcome.ok());
  }
  return 0;
}
