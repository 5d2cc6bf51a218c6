// Where AWS credentials and the region come from, in the order the AWS CLI
// and SDKs use: the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), then the shared credentials file (AWS_SHARED_CREDENTIALS_FILE,
// else ~/.aws/credentials) and the config file (AWS_CONFIG_FILE, else
// ~/.aws/config) for the profile AWS_PROFILE (else "default"). The region comes
// from AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region`.
//
// Environment lookups go through a function so tests need not touch the
// process environment. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "aws/sigv4.h"
#include "core/status.h"

namespace kstream::aws {

// Reads one environment variable (nullopt when unset or empty).
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
EnvLookup ProcessEnv();

// An INI file as the AWS tools write it: "[section]" headers, "key = value"
// lines, '#' or ';' comments; indented lines below a key without a value
// (nested settings such as "s3 =") are skipped. Keys are lower-cased.
using IniSections = std::map<std::string, std::map<std::string, std::string>>;
Result<IniSections> ParseIni(std::string_view text, const std::string& path);

// The credentials of one section: aws_access_key_id, aws_secret_access_key and
// aws_session_token. NotFound if the section or its key id is missing.
Result<Credentials> CredentialsFromSection(const IniSections& ini, const std::string& section,
                                           const std::string& path);

struct AwsConfig {
  std::optional<Credentials> credentials;  // none found anywhere
  std::string credentials_source;          // "environment", a file path, or empty
  std::string region;                      // empty when none is configured
  std::string profile;
};

// Resolves credentials and region as described above. Fails only on an
// unreadable or malformed file, or a profile named by AWS_PROFILE that exists
// in neither file.
Result<AwsConfig> LoadAwsConfig(const EnvLookup& env);

// The region named by an AWS endpoint host ("kinesis.eu-west-1.amazonaws.com"
// gives "eu-west-1"); empty for any other host.
std::string RegionFromHost(std::string_view host);

}  // namespace kstream::aws
