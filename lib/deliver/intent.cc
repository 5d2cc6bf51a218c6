#include "deliver/intent.h"

#include "core/text.h"

namespace kstream {

namespace {
constexpr std::string_view kMagic = "kstream-deliver intent 1";
}

std::string EncodeIntent(const FlushIntent& intent) {
  std::string out(kMagic);
  out += "\nshard " + ShardIdFor(intent.shard) + "\nlast " + ToDecimal(intent.last) + "\n";
  for (const auto& f : intent.files) out += "file " + f.staged + "\t" + f.final + "\n";
  return out;
}

Result<FlushIntent> DecodeIntent(std::string_view text, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return Status::Corruption("flush intent " + path + ": " + why);
  };
  FlushIntent intent;
  bool magic = false, shard = false, last = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) return bad("truncated");
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (!magic) {
      if (line != kMagic) return bad("not a flush intent");
      magic = true;
    } else if (line.starts_with("shard ")) {
      auto s = ParseShardId(line.substr(6));
      if (!s.ok()) return bad(s.status().message());
      intent.shard = *s;
      shard = true;
    } else if (line.starts_with("last ")) {
      auto l = SequenceNumber::Parse(line.substr(5), "sequence number");
      if (!l.ok()) return bad(l.status().message());
      intent.last = *l;
      last = true;
    } else if (line.starts_with("file ")) {
      const std::string_view rest = line.substr(5);
      const size_t tab = rest.find('\t');
      if (tab == std::string_view::npos || tab == 0 || tab + 1 == rest.size())
        return bad("bad file line");
      intent.files.push_back({std::string(rest.substr(0, tab)), std::string(rest.substr(tab + 1))});
    } else {
      return bad("unknown line '" + std::string(line) + "'");
    }
  }
  if (!magic || !shard || !last) return bad("incomplete");
  return intent;
}

}  // namespace kstream
