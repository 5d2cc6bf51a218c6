#include "aws/credentials.h"

#include <cctype>
#include <cstdlib>
#include <tuple>

#include "core/env.h"

namespace kstream::aws {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads an optional INI file: a missing file is an empty one.
Result<IniSections> ReadIniIfPresent(const std::string& path) {
  Env* env = Env::Default();
  if (path.empty() || !env->Exists(path)) return IniSections{};
  KS_ASSIGN_OR_RETURN(const std::string text, env->ReadWholeFile(path));
  return ParseIni(text, path);
}

std::string HomePath(const EnvLookup& env, const char* relative) {
  const std::optional<std::string> home = env("HOME");
  return home ? JoinPath(*home, relative) : std::string();
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

Result<IniSections> ParseIni(std::string_view text, const std::string& path) {
  IniSections out;
  std::map<std::string, std::string>* section = nullptr;
  bool in_nested = false;  // below "key =" with no value: indented sub-settings
  int line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    const bool indented = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
    const std::string_view line = Trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (indented && in_nested) continue;
    in_nested = false;
    auto bad = [&](const char* why) {
      return Status::InvalidArgument(path + ":" + std::to_string(line_no) + ": " + why);
    };
    if (line[0] == '[') {
      if (line.back() != ']') return bad("a section header must end with ']'");
      section = &out[std::string(Trim(line.substr(1, line.size() - 2)))];
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return bad("expected 'key = value'");
    if (section == nullptr) return bad("a setting must follow a [section] header");
    const std::string key = Lower(Trim(line.substr(0, eq)));
    const std::string_view value = Trim(line.substr(eq + 1));
    if (value.empty()) in_nested = true;
    (*section)[key] = std::string(value);
  }
  return out;
}

Result<Credentials> CredentialsFromSection(const IniSections& ini, const std::string& section,
                                           const std::string& path) {
  auto it = ini.find(section);
  if (it == ini.end()) return Status::NotFound(path + ": no section [" + section + "]");
  const auto& kv = it->second;
  auto get = [&](const char* key) {
    auto f = kv.find(key);
    return f == kv.end() ? std::string() : f->second;
  };
  Credentials creds{get("aws_access_key_id"), get("aws_secret_access_key"),
                    get("aws_session_token")};
  if (creds.access_key_id.empty()) {
    return Status::NotFound(path + ": [" + section + "] has no aws_access_key_id");
  }
  if (creds.secret_access_key.empty()) {
    return Status::InvalidArgument(path + ": [" + section + "] has aws_access_key_id but no " +
                                   "aws_secret_access_key");
  }
  return creds;
}

Result<AwsConfig> LoadAwsConfig(const EnvLookup& env) {
  AwsConfig cfg;
  cfg.profile = env("AWS_PROFILE").value_or("default");
  const std::string creds_path =
      env("AWS_SHARED_CREDENTIALS_FILE").value_or(HomePath(env, ".aws/credentials"));
  const std::string config_path = env("AWS_CONFIG_FILE").value_or(HomePath(env, ".aws/config"));
  KS_ASSIGN_OR_RETURN(const IniSections creds_file, ReadIniIfPresent(creds_path));
  KS_ASSIGN_OR_RETURN(const IniSections config_file, ReadIniIfPresent(config_path));
  // The config file names profiles "[profile x]", except "[default]".
  const std::string config_section =
      cfg.profile == "default" ? "default" : "profile " + cfg.profile;
  const bool profile_known =
      creds_file.count(cfg.profile) > 0 || config_file.count(config_section) > 0;
  if (env("AWS_PROFILE") && !profile_known) {
    return Status::NotFound("AWS profile '" + cfg.profile + "' is in neither " + creds_path +
                            " nor " + config_path);
  }

  const auto key = env("AWS_ACCESS_KEY_ID");
  const auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (key && secret) {
    cfg.credentials = Credentials{*key, *secret, env("AWS_SESSION_TOKEN").value_or("")};
    cfg.credentials_source = "environment";
  } else {
    for (const auto& [ini, section, path] :
         {std::tuple{&creds_file, cfg.profile, creds_path},
          std::tuple{&config_file, config_section, config_path}}) {
      Result<Credentials> c = CredentialsFromSection(*ini, section, path);
      if (c.ok()) {
        cfg.credentials = std::move(c).value();
        cfg.credentials_source = path;
        break;
      }
      if (c.status().code() != StatusCode::kNotFound) return c.status();
    }
  }

  if (auto r = env("AWS_REGION")) {
    cfg.region = *r;
  } else if (auto d = env("AWS_DEFAULT_REGION")) {
    cfg.region = *d;
  } else if (auto s = config_file.find(config_section); s != config_file.end()) {
    if (auto r2 = s->second.find("region"); r2 != s->second.end()) cfg.region = r2->second;
  }
  return cfg;
}

std::string RegionFromHost(std::string_view host) {
  // <service>.<region>.amazonaws.com[.cn], possibly with a port.
  if (const size_t colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  const size_t suffix = host.find(".amazonaws.com");
  if (suffix == std::string_view::npos) return "";
  const std::string_view head = host.substr(0, suffix);
  const size_t dot = head.rfind('.');
  if (dot == std::string_view::npos) return "";
  return std::string(head.substr(dot + 1));
}

}  // namespace kstream::aws
