#include "window/groups.h"

#include <cstring>

#include "core/text.h"

namespace kstream::window {

Status GroupFields::BuildKey(const std::vector<FieldValue>& values, std::string& key) const {
  key.clear();
  for (size_t i = 0; i < slots.size(); ++i) {
    const FieldValue& v = values[size_t(slots[i])];
    if (!v.present()) return Status::InvalidArgument("field '" + names[i] + "' is missing");
    const uint32_t n = uint32_t(v.text.size());
    key += char(v.kind);
    if (slots.size() > 1) key.append(reinterpret_cast<const char*>(&n), sizeof n);
    key.append(v.text);
  }
  return Status::Ok();
}

void GroupFields::AppendFields(std::string& out, std::string_view key) const {
  size_t pos = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto kind = FieldValue::Kind(key[pos++]);
    uint32_t n = uint32_t(key.size() - pos);
    if (slots.size() > 1) {
      std::memcpy(&n, key.data() + pos, sizeof n);
      pos += sizeof n;
    }
    const std::string_view text = key.substr(pos, n);
    pos += n;
    out += ',';
    AppendJsonString(out, names[i]);
    out += ':';
    if (kind == FieldValue::Kind::kString)
      AppendJsonString(out, text);
    else
      out.append(text);
  }
}

uint32_t GroupTable::FindOrAdd(std::string_view key, uint64_t hash) {
  if ((groups_.size() + 1) * 4 > slots_.size() * 3) Grow();
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const uint32_t s = slots_[i];
    if (s == 0) {
      const uint32_t row = rows_.Alloc();
      const size_t offset = arena_.size();
      arena_.append(key);
      fields_->AppendFields(arena_, key);
      groups_.push_back(
          {hash, offset, uint32_t(key.size()), uint32_t(arena_.size() - offset - key.size())});
      slots_[i] = row + 1;
      return row;
    }
    const Group& g = groups_[s - 1];
    if (g.hash == hash && g.key_size == key.size() &&
        std::memcmp(arena_.data() + g.key_offset, key.data(), key.size()) == 0)
      return s - 1;
  }
}

void GroupTable::Grow() {
  std::vector<uint32_t> next(slots_.empty() ? 64 : slots_.size() * 2, 0);
  const size_t mask = next.size() - 1;
  for (uint32_t row = 0; row < groups_.size(); ++row) {
    size_t i = groups_[row].hash & mask;
    while (next[i] != 0) i = (i + 1) & mask;
    next[i] = row + 1;
  }
  slots_.swap(next);
}

void GroupTable::AppendLines(std::string& out, std::string_view prefix) {
  for (uint32_t row = 0; row < groups_.size(); ++row) {
    const Group& g = groups_[row];
    out += prefix;
    out.append(arena_, g.key_offset + g.key_size, g.fields_size);
    rows_.Append(out, row);
    out += "}\n";
  }
}

}  // namespace kstream::window
