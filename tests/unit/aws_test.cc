// lib/aws: SigV4 against the values AWS publishes (the IAM ListUsers example of
// the signing documentation and the aws-sig-v4-test-suite), verification of
// signed requests, and credential/config file resolution.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "test_util.h"

using namespace kstream;
using namespace kstream::aws;

namespace {

constexpr const char* kKeyId = "AKIDEXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr int64_t kExampleTime = 1440938160;  // 20150830T123600Z

// The test suite's requests: host example.amazonaws.com, X-Amz-Date set.
SignableRequest SuiteRequest(std::string method, std::string query = "") {
  SignableRequest req;
  req.method = std::move(method);
  req.path = "/";
  req.query = std::move(query);
  req.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  return req;
}

std::string SignatureOf(const SignableRequest& req) {
  const std::string auth = std::string(*req.Header("authorization"));
  return auth.substr(auth.rfind('=') + 1);
}

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace

TEST_SUITE("aws") {
  TEST_CASE("IamListUsersExampleMatchesEveryPublishedStep") {
    SignableRequest req;
    req.method = "GET";
    req.query = "Action=ListUsers&Version=2010-05-08";
    req.headers = {{"Host", "iam.amazonaws.com"},
                   {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                   {"X-Amz-Date", "20150830T123600Z"}};
    Result<std::string> canonical =
        BuildCanonicalRequest(req, {"content-type", "host", "x-amz-date"}, Sha256Hex(""));
    REQUIRE(canonical.ok());
    CHECK(*canonical ==
          "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
          "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
          "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
          "content-type;host;x-amz-date\n"
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(Sha256Hex(*canonical) ==
          "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    const std::string scope = CredentialScope("20150830", "us-east-1", "iam");
    const std::string to_sign = BuildStringToSign("20150830T123600Z", scope, *canonical);
    CHECK(to_sign ==
          "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
          "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    const std::string key = DeriveSigningKey(kSecret, "20150830", "us-east-1", "iam");
    CHECK(HexEncode(key) == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    CHECK(ComputeSignature(key, to_sign) ==
          "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");

    // The whole client path gives the same header.
    REQUIRE(SignRequest(req, {kKeyId, kSecret, ""}, "us-east-1", "iam", kExampleTime).ok());
    CHECK(*req.Header("authorization") ==
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
          "SignedHeaders=content-type;host;x-amz-date, "
          "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
  }

  TEST_CASE("SigV4TestSuiteVectors") {
    const Credentials creds{kKeyId, kSecret, ""};
    CHECK(HexEncode(DeriveSigningKey(kSecret, "20150830", "us-east-1", "service")) ==
          "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
    struct Case {
      const char* name;
      const char* method;
      const char* query;
      const char* signature;
    };
    for (const Case& c : {
             Case{"get-vanilla", "GET", "",
                  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
             Case{"get-vanilla-query-order-key-case", "GET", "Param2=value2&Param1=value1",
                  "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
             Case{"post-vanilla", "POST", "",
                  "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
         }) {
      CAPTURE(c.name);
      SignableRequest req = SuiteRequest(c.method, c.query);
      REQUIRE(SignRequest(req, creds, "us-east-1", "service", kExampleTime).ok());
      CHECK(SignatureOf(req) == c.signature);
    }

    SUBCASE("get-utf8: the path is encoded") {
      SignableRequest req = SuiteRequest("GET");
      req.path = "/\xe1\x88\xb4";
      REQUIRE(SignRequest(req, creds, "us-east-1", "service", kExampleTime).ok());
      CHECK(SignatureOf(req) == "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
    }
    SUBCASE("post-x-www-form-urlencoded: the body is hashed and content-type signed") {
      SignableRequest req = SuiteRequest("POST");
      req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
      req.body = "Param1=value1";
      REQUIRE(SignRequest(req, creds, "us-east-1", "service", kExampleTime).ok());
      CHECK(SignatureOf(req) == "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
    }
  }

  TEST_CASE("CanonicalFormsFollowTheRules") {
    CHECK(UriEncode("a b/c~d*e", false) == "a%20b%2Fc~d%2Ae");
    CHECK(UriEncode("a b/c", true) == "a%20b/c");
    CHECK(CanonicalQuery("b=2&a=1&A=0") == "A=0&a=1&b=2");
    CHECK(CanonicalQuery("k=a%20b&flag") == "flag=&k=a%20b");
    SignableRequest req = SuiteRequest("GET");
    req.headers.emplace_back("My-Header1", "  a   b   c ");
    req.headers.emplace_back("my-header1", "d");
    Result<std::string> c = BuildCanonicalRequest(req, {"my-header1", "host"}, "h");
    REQUIRE(c.ok());
    CHECK(c->find("my-header1:a b c,d\n") != std::string::npos);
    CHECK(!BuildCanonicalRequest(req, {"host", "x-missing"}, "h").ok());
  }

  TEST_CASE("AmzDateRoundTrips") {
    CHECK(FormatAmzDate(kExampleTime) == "20150830T123600Z");
    Result<int64_t> t = ParseAmzDate("20150830T123600Z");
    REQUIRE(t.ok());
    CHECK(*t == kExampleTime);
    // Regression (sigv4_fuzz): years before 1000 formatted unpadded, so
    // "00150830T123600Z" did not survive a round trip.
    for (const char* text : {"00150830T123600Z", "00000101T000000Z", "99991231T235959Z"}) {
      CAPTURE(text);
      Result<int64_t> early = ParseAmzDate(text);
      REQUIRE(early.ok());
      CHECK(FormatAmzDate(*early) == text);
    }
    CHECK(!ParseAmzDate("2015-08-30T12:36:00Z").ok());
    CHECK(!ParseAmzDate("20151330T123600Z").ok());
  }

  TEST_CASE("AuthorizationHeaderParsesAndFormatsBack") {
    const std::string text =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
    Result<Authorization> a = ParseAuthorization(text);
    REQUIRE(a.ok());
    CHECK(a->access_key_id == "AKIDEXAMPLE");
    CHECK(a->Scope() == "20150830/us-east-1/iam/aws4_request");
    CHECK(a->signed_headers == std::vector<std::string>{"content-type", "host", "x-amz-date"});
    CHECK(FormatAuthorization(*a) == text);
    // botocore writes no spaces after the commas.
    CHECK(ParseAuthorization("AWS4-HMAC-SHA256 Credential=K/20150830/r/s/aws4_request,"
                             "SignedHeaders=host,Signature=" +
                             std::string(64, 'a'))
              .ok());
    for (const char* bad : {
             "AWS4-HMAC-SHA1 Credential=K/20150830/r/s/aws4_request, SignedHeaders=host, "
             "Signature=00",
             "AWS4-HMAC-SHA256 Credential=K/20150830/r/s, SignedHeaders=host, Signature=00",
             "AWS4-HMAC-SHA256 SignedHeaders=host",
             "AWS4-HMAC-SHA256 Credential=K/20150830/r/s/aws4_request, SignedHeaders=host, "
             "Signature=xyz",
         }) {
      CAPTURE(bad);
      CHECK(!ParseAuthorization(bad).ok());
    }
  }

  TEST_CASE("VerifyAcceptsWhatSignRequestProducesAndRefusesTampering") {
    const SecretLookup secrets = [](std::string_view key) -> std::optional<std::string> {
      if (key == kKeyId) return std::string(kSecret);
      return std::nullopt;
    };
    const std::string body = R"({"StreamName":"logs"})";
    auto signed_request = [&](const Credentials& creds) {
      SignableRequest req;
      req.headers = {{"Host", "127.0.0.1:4567"},
                     {"Content-Type", "application/x-amz-json-1.1"},
                     {"X-Amz-Target", "Kinesis_20131202.DescribeStream"}};
      req.body = body;
      REQUIRE(SignRequest(req, creds, "us-east-1", "kinesis", kExampleTime).ok());
      return req;
    };
    const SignableRequest good = signed_request({kKeyId, kSecret, "token"});
    CHECK(good.Header("x-amz-security-token") == "token");
    VerifyOutcome ok = VerifyRequest(good, secrets, kExampleTime + 60);
    CHECK_MESSAGE(ok.ok(), ok.message);
    CHECK(ok.access_key_id == kKeyId);

    SignableRequest tampered = good;
    const std::string other_body = R"({"StreamName":"logz"})";
    tampered.body = other_body;
    CHECK(VerifyRequest(tampered, secrets, kExampleTime).failure ==
          AuthFailure::kSignatureMismatch);
    tampered = good;
    tampered.SetHeader("X-Amz-Target", "Kinesis_20131202.DeleteStream");
    CHECK(VerifyRequest(tampered, secrets, kExampleTime).failure ==
          AuthFailure::kSignatureMismatch);

    const SignableRequest wrong_secret = signed_request({kKeyId, "not-the-secret", ""});
    const VerifyOutcome mismatch = VerifyRequest(wrong_secret, secrets, kExampleTime);
    CHECK(mismatch.failure == AuthFailure::kSignatureMismatch);
    CHECK(AuthFailureType(mismatch.failure) == "InvalidSignatureException");

    const SignableRequest stranger = signed_request({"AKIDUNKNOWN", kSecret, ""});
    CHECK(VerifyRequest(stranger, secrets, kExampleTime).failure == AuthFailure::kUnknownKey);
    CHECK(VerifyRequest(good, secrets, kExampleTime + 3600).failure == AuthFailure::kExpired);

    SignableRequest unsigned_request = good;
    unsigned_request.SetHeader("Authorization", "");
    std::erase_if(unsigned_request.headers, [](auto& h) { return h.first == "Authorization"; });
    CHECK(VerifyRequest(unsigned_request, secrets, kExampleTime).failure ==
          AuthFailure::kMissingToken);
    SignableRequest garbled = good;
    garbled.SetHeader("Authorization", "AWS4-HMAC-SHA256 Credential=x");
    CHECK(VerifyRequest(garbled, secrets, kExampleTime).failure == AuthFailure::kIncomplete);
  }

  // Over HTTP/2 there is no Host header: the JavaScript SDK v3 signs the
  // ":authority" pseudo-header instead, and kstream-serve verifies it.
  TEST_CASE("VerifyAcceptsAuthorityInPlaceOfHostOverHttp2") {
    const SecretLookup secrets = [](std::string_view key) -> std::optional<std::string> {
      if (key == kKeyId) return std::string(kSecret);
      return std::nullopt;
    };
    const std::string body = "{}";
    const std::string amz_date = FormatAmzDate(kExampleTime);
    auto signed_over = [&](std::vector<std::string> names) {
      SignableRequest req;
      req.headers = {{":authority", "127.0.0.1:4567"},
                     {"content-type", "application/x-amz-json-1.1"},
                     {"x-amz-date", amz_date}};
      req.body = body;
      Authorization auth{kKeyId, amz_date.substr(0, 8), "us-east-1", "kinesis", names, ""};
      auto canonical = BuildCanonicalRequest(req, names, Sha256Hex(body));
      REQUIRE(canonical.ok());
      auth.signature =
          ComputeSignature(DeriveSigningKey(kSecret, auth.date, auth.region, auth.service),
                           BuildStringToSign(amz_date, auth.Scope(), *canonical));
      req.headers.emplace_back("authorization", FormatAuthorization(auth));
      return req;
    };
    const SignableRequest good = signed_over({":authority", "content-type", "x-amz-date"});
    const VerifyOutcome ok = VerifyRequest(good, secrets, kExampleTime);
    CHECK_MESSAGE(ok.ok(), ok.message);
    SignableRequest moved = good;
    moved.SetHeader(":authority", "127.0.0.1:9999");  // another server
    CHECK(VerifyRequest(moved, secrets, kExampleTime).failure == AuthFailure::kSignatureMismatch);
    const SignableRequest neither = signed_over({"content-type", "x-amz-date"});
    CHECK(VerifyRequest(neither, secrets, kExampleTime).failure == AuthFailure::kIncomplete);
  }

  // Regression (sigv4_fuzz): a header named "X-Amz;Date" was signed as
  // SignedHeaders=host;x-amz-date;x-amz;date, which the verifier reads as
  // four names, so a request SignRequest accepted could never verify.
  TEST_CASE("SignRequestRefusesWhatVerifyRequestCouldNeverAccept") {
    const SecretLookup secrets = [](std::string_view key) -> std::optional<std::string> {
      if (key == kKeyId) return std::string(kSecret);
      return std::nullopt;
    };
    const Credentials creds{kKeyId, kSecret, ""};
    const std::string body = R"({"StreamName":"s"})";
    auto request = [&](std::vector<std::pair<std::string, std::string>> extra) {
      SignableRequest req;
      req.headers = {{"Host", "127.0.0.1"}};
      for (auto& h : extra) req.headers.push_back(std::move(h));
      req.body = body;
      return req;
    };
    for (const std::string_view name : {"X-Amz;Date", "a,b", "with space", "", "caf\xc3\xa9"}) {
      CAPTURE(name);
      SignableRequest req = request({{std::string(name), "v"}});
      const Status s = SignRequest(req, creds, "us-east-1", "kinesis", kExampleTime);
      CHECK(s.code() == StatusCode::kInvalidArgument);
      CHECK(!req.Header("authorization"));
    }
    SignableRequest lying = request({{"X-Amz-Content-Sha256", Sha256Hex("other")}});
    CHECK(!SignRequest(lying, creds, "us-east-1", "kinesis", kExampleTime).ok());

    // What is signable verifies: token names of every kind, a declared hash.
    for (const std::string& declared : {std::string(kUnsignedPayload), Sha256Hex(body)}) {
      SignableRequest req =
          request({{"X-Custom!#$%&'*+.^_`|~", "  a   b "}, {"x-amz-content-sha256", declared}});
      REQUIRE(SignRequest(req, creds, "us-east-1", "kinesis", kExampleTime).ok());
      const VerifyOutcome outcome = VerifyRequest(req, secrets, kExampleTime);
      CHECK_MESSAGE(outcome.ok(), outcome.message);
    }
  }

  TEST_CASE("IniFilesParseLikeTheAwsTools") {
    Result<IniSections> ini = ParseIni(
        "# comment\n[default]\naws_access_key_id = AKID1\nAWS_Secret_Access_Key=s1\n\n"
        "[profile dev]\nregion = eu-west-1\ns3 =\n  max_concurrent_requests = 10\n"
        "; another\noutput=json\n",
        "cfg");
    REQUIRE(ini.ok());
    CHECK((*ini)["default"]["aws_access_key_id"] == "AKID1");
    CHECK((*ini)["default"]["aws_secret_access_key"] == "s1");
    CHECK((*ini)["profile dev"]["region"] == "eu-west-1");
    CHECK((*ini)["profile dev"]["output"] == "json");
    CHECK((*ini)["profile dev"].count("max_concurrent_requests") == 0);
    Result<IniSections> orphan = ParseIni("key = value\n", "cfg");
    REQUIRE(!orphan.ok());
    CHECK(orphan.status().message() == "cfg:1: a setting must follow a [section] header");
    CHECK(!ParseIni("[default\n", "cfg").ok());
    CHECK(!ParseIni("[default]\njust words\n", "cfg").ok());
  }

  TEST_CASE("CredentialsResolveFromEnvironmentThenFilesByProfile") {
    kstest::TempDir dir;
    WriteText(dir.Sub("credentials"),
              "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = sdefault\n"
              "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = sdev\n"
              "aws_session_token = tdev\n"
              "[broken]\naws_access_key_id = AKIDBROKEN\n");
    WriteText(dir.Sub("config"),
              "[default]\nregion = us-west-2\n[profile dev]\nregion = eu-central-1\n"
              "[profile cfgonly]\naws_access_key_id = AKIDCFG\naws_secret_access_key = scfg\n");
    std::map<std::string, std::string> vars = {
        {"HOME", dir.path() + "/nohome"},
        {"AWS_SHARED_CREDENTIALS_FILE", dir.Sub("credentials")},
        {"AWS_CONFIG_FILE", dir.Sub("config")}};

    Result<AwsConfig> cfg = LoadAwsConfig(FakeEnv(vars));
    REQUIRE(cfg.ok());
    REQUIRE(cfg->credentials);
    CHECK(cfg->credentials->access_key_id == "AKIDDEFAULT");
    CHECK(cfg->credentials_source == dir.Sub("credentials"));
    CHECK(cfg->region == "us-west-2");

    vars["AWS_PROFILE"] = "dev";
    cfg = LoadAwsConfig(FakeEnv(vars));
    REQUIRE(cfg.ok());
    CHECK(cfg->credentials->access_key_id == "AKIDDEV");
    CHECK(cfg->credentials->session_token == "tdev");
    CHECK(cfg->region == "eu-central-1");

    vars["AWS_PROFILE"] = "cfgonly";
    cfg = LoadAwsConfig(FakeEnv(vars));
    REQUIRE(cfg.ok());
    CHECK(cfg->credentials->access_key_id == "AKIDCFG");
    CHECK(cfg->region.empty());

    vars["AWS_PROFILE"] = "broken";
    cfg = LoadAwsConfig(FakeEnv(vars));
    REQUIRE(!cfg.ok());
    CHECK(cfg.status().message().find("no aws_secret_access_key") != std::string::npos);

    vars["AWS_PROFILE"] = "nosuch";
    CHECK(LoadAwsConfig(FakeEnv(vars)).status().code() == StatusCode::kNotFound);

    // The environment wins over every file, and AWS_REGION over AWS_DEFAULT_REGION.
    vars["AWS_PROFILE"] = "dev";
    vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
    vars["AWS_SECRET_ACCESS_KEY"] = "senv";
    vars["AWS_DEFAULT_REGION"] = "ap-south-1";
    cfg = LoadAwsConfig(FakeEnv(vars));
    REQUIRE(cfg.ok());
    CHECK(cfg->credentials->access_key_id == "AKIDENV");
    CHECK(cfg->credentials->session_token.empty());
    CHECK(cfg->credentials_source == "environment");
    CHECK(cfg->region == "ap-south-1");
    vars["AWS_REGION"] = "sa-east-1";
    CHECK(LoadAwsConfig(FakeEnv(vars))->region == "sa-east-1");

    // Nothing anywhere: no credentials, and no error.
    cfg = LoadAwsConfig(FakeEnv({{"HOME", dir.path() + "/nohome"}}));
    REQUIRE(cfg.ok());
    CHECK(!cfg->credentials);
  }

  TEST_CASE("RegionComesFromAnAwsEndpointHost") {
    CHECK(RegionFromHost("kinesis.eu-west-1.amazonaws.com") == "eu-west-1");
    CHECK(RegionFromHost("kinesis.cn-north-1.amazonaws.com.cn:443") == "cn-north-1");
    CHECK(RegionFromHost("127.0.0.1:4567") == "");
    CHECK(RegionFromHost("amazonaws.com") == "");
  }
}
