#include "agent/checkpoint.h"

#include <simdjson.h>

#include <cinttypes>
#include <cstdio>

#include "core/text.h"

namespace kstream::agent {

uint64_t HashBytes(std::string_view bytes) {  // FNV-1a, 64 bit
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string EncodeCheckpoints(const CheckpointSet& set) {
  std::string out = "{\"version\":1,\"flows\":[";
  for (size_t i = 0; i < set.flows.size(); ++i) {
    if (i) out += ',';
    AppendJsonString(out, set.flows[i]);
  }
  out += "],\"files\":[";
  const auto& cps = set.files;
  char hex[17];
  for (size_t i = 0; i < cps.size(); ++i) {
    const FileCheckpoint& c = cps[i];
    if (i) out += ',';
    out += "\n{\"flow\":";
    AppendJsonString(out, c.flow);
    out += ",\"path\":";
    AppendJsonString(out, c.path);
    std::snprintf(hex, sizeof(hex), "%016" PRIx64, c.fingerprint.hash);
    out += ",\"dev\":" + std::to_string(c.dev) + ",\"inode\":" + std::to_string(c.inode) +
           ",\"fingerprintBytes\":" + std::to_string(c.fingerprint.bytes) + ",\"fingerprint\":\"" +
           hex + "\",\"offset\":" + std::to_string(c.offset) +
           ",\"lastUpdated\":" + std::to_string(c.updated_ms) + "}";
  }
  out += "]}\n";
  return out;
}

Result<CheckpointSet> DecodeCheckpoints(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root))
    return Status::Corruption(std::string("not valid JSON: ") + simdjson::error_message(err));
  simdjson::dom::array files, flows;
  if (root["files"].get(files) != simdjson::SUCCESS ||
      root["flows"].get(flows) != simdjson::SUCCESS)
    return Status::Corruption("no \"flows\" or \"files\" list");
  CheckpointSet set;
  for (simdjson::dom::element f : flows) {
    std::string_view id;
    if (f.get(id)) return Status::Corruption("a flow id is not a string");
    set.flows.emplace_back(id);
  }
  auto& out = set.files;
  for (simdjson::dom::element f : files) {
    FileCheckpoint c;
    std::string_view flow, path, fp;
    uint64_t bytes = 0;
    int64_t updated = 0;
    if (f["flow"].get(flow) || f["path"].get(path) || f["dev"].get(c.dev) ||
        f["inode"].get(c.inode) || f["fingerprintBytes"].get(bytes) || f["fingerprint"].get(fp) ||
        f["offset"].get(c.offset) || f["lastUpdated"].get(updated) || bytes > kFingerprintBytes)
      return Status::Corruption("a file entry lacks a field or has a wrong type");
    c.flow = flow;
    c.path = path;
    c.fingerprint.bytes = uint32_t(bytes);
    c.fingerprint.hash = std::strtoull(std::string(fp).c_str(), nullptr, 16);
    c.updated_ms = updated;
    out.push_back(std::move(c));
  }
  return set;
}

Result<CheckpointSet> LoadCheckpoints(Env* env, const std::string& path) {
  if (!env->Exists(path)) return CheckpointSet{};
  KS_ASSIGN_OR_RETURN(std::string text, env->ReadWholeFile(path));
  auto cps = DecodeCheckpoints(text);
  if (!cps.ok())
    return Status::Corruption("checkpoint file " + path + " is damaged: " + cps.status().message() +
                              " (move it away to start over)");
  return cps;
}

Status SaveCheckpoints(Env* env, const std::string& path, const CheckpointSet& set) {
  return env->WriteFileAtomic(path, EncodeCheckpoints(set));
}

}  // namespace kstream::agent
