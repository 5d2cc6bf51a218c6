#include "window/input.h"

#include <charconv>
#include <deque>
#include <string>

#include "core/text.h"

namespace kstream::window {

int FieldSet::Add(const FieldPath& path, bool needs_text) {
  for (size_t i = 0; i < paths_.size(); ++i) {
    if (paths_[i].text() == path.text()) {
      if (needs_text) needs_text_[i] = true;
      return int(i);
    }
  }
  paths_.push_back(path);
  needs_text_.push_back(needs_text);
  return int(paths_.size() - 1);
}

bool IsJsonNumber(std::string_view s) {
  size_t i = 0, n = s.size();
  auto digits = [&] {
    const size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < n && s[i] == '-') ++i;
  if (i < n && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == n;
}

namespace {

Status InvalidJson(simdjson::error_code e) {
  return Status::InvalidArgument(std::string("invalid JSON: ") + simdjson::error_message(e));
}

// simdjson's DOM parser (stage 1 and 2 dispatched at run time to the best
// kernel of the CPU; On-Demand would be fixed at compile time) fully
// validates each line; the requested paths form a trie of object keys that
// one walk over the parsed object fills.
class JsonParser final : public RecordParser {
 public:
  explicit JsonParser(const FieldSet& fields) : slots_(fields.size()) {
    for (size_t i = 0; i < fields.size(); ++i) text_.push_back(fields.needs_text(i));
    nodes_.emplace_back();
    for (size_t i = 0; i < fields.size(); ++i) {
      int n = 0;
      for (const auto& key : fields.paths()[i].keys()) n = ChildOf(n, key);
      nodes_[size_t(n)].slot = int(i);
    }
  }

  Status Parse(std::string_view line, std::vector<FieldValue>& values, bool* header) override {
    *header = false;
    values.assign(slots_, FieldValue{});
    numbers_.clear();
    raw_.clear();
    simdjson::dom::element root;
    if (auto e = parser_.parse(line.data(), line.size(), /*realloc_if_needed=*/false).get(root))
      return InvalidJson(e);
    simdjson::dom::object obj;
    if (root.get(obj)) return Status::InvalidArgument("not a JSON object");
    Walk(obj, 0, values);
    return Status::Ok();
  }

 private:
  struct Node {
    std::vector<std::pair<std::string, int>> children;
    int slot = -1;
  };

  int ChildOf(int node, const std::string& key) {
    for (const auto& [k, child] : nodes_[size_t(node)].children)
      if (k == key) return child;
    nodes_.emplace_back();
    const int child = int(nodes_.size() - 1);
    nodes_[size_t(node)].children.emplace_back(key, child);
    return child;
  }

  void Walk(simdjson::dom::object obj, int node, std::vector<FieldValue>& values) {
    const auto& children = nodes_[size_t(node)].children;
    for (const auto field : obj) {
      int child = -1;
      for (const auto& [k, c] : children)
        if (field.key == k) {
          child = c;
          break;
        }
      if (child < 0) continue;
      const Node& c = nodes_[size_t(child)];
      if (c.slot >= 0) Read(field.value, size_t(c.slot), values[size_t(c.slot)]);
      simdjson::dom::object sub;
      if (!c.children.empty() && !field.value.get(sub)) Walk(sub, child, values);
    }
  }

  void Read(simdjson::dom::element v, size_t slot, FieldValue& out) {
    using T = simdjson::dom::element_type;
    switch (v.type()) {
      case T::STRING:
        out = {FieldValue::Kind::kString, v.get_string().value_unsafe()};
        return;
      case T::INT64:
        return Number(out, double(v.get_int64().value_unsafe()), v, text_[slot]);
      case T::UINT64:
        return Number(out, double(v.get_uint64().value_unsafe()), v, text_[slot]);
      case T::DOUBLE:
        return Number(out, v.get_double().value_unsafe(), v, text_[slot]);
      case T::BOOL:
        out = {FieldValue::Kind::kBool, v.get_bool().value_unsafe() ? "true" : "false"};
        return;
      case T::NULL_VALUE:
        out = {FieldValue::Kind::kNull, "null"};
        return;
      default:
        raw_.push_back(simdjson::minify(v));
        out = {FieldValue::Kind::kRaw, raw_.back()};
    }
  }

  // Numbers keep their value and get a text (for keys and --top): integers
  // exactly, other numbers in their shortest round-trip form.
  void Number(FieldValue& out, double d, simdjson::dom::element v, bool text) {
    if (!text) {
      out = {FieldValue::Kind::kNumber, {}, true, d};
      return;
    }
    char* buf = numbers_.Next();
    std::to_chars_result r;
    if (v.is_int64())
      r = std::to_chars(buf, buf + 32, v.get_int64().value_unsafe());
    else if (v.is_uint64())
      r = std::to_chars(buf, buf + 32, v.get_uint64().value_unsafe());
    else
      r = std::to_chars(buf, buf + 32, d);
    out = {FieldValue::Kind::kNumber, std::string_view(buf, size_t(r.ptr - buf)), true, d};
  }

  // Fixed-size text buffers for numbers, reused per record; views stay valid.
  class NumberTexts {
   public:
    void clear() { used_ = 0; }
    char* Next() {
      if (used_ == blocks_.size()) blocks_.push_back(std::make_unique<char[]>(32));
      return blocks_[used_++].get();
    }

   private:
    std::vector<std::unique_ptr<char[]>> blocks_;
    size_t used_ = 0;
  };

  size_t slots_;
  std::vector<bool> text_;  // per slot: numbers need their text
  std::vector<Node> nodes_;
  simdjson::dom::parser parser_;
  NumberTexts numbers_;
  std::deque<std::string> raw_;  // objects and arrays as text
};

class CsvParser final : public RecordParser {
 public:
  CsvParser(const FieldSet& fields, CsvOptions o) : o_(std::move(o)) {
    for (const auto& p : fields.paths()) names_.push_back(p.text());
    if (!o_.header.empty()) header_status_ = MapColumns(o_.header);
  }

  Status Parse(std::string_view line, std::vector<FieldValue>& values, bool* header) override {
    *header = false;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!have_header_) {
      *header = true;
      if (!SplitCsvLine(line, o_.delimiter, cols_, scratch_))
        return Status::FailedPrecondition("CSV header: unbalanced quote");
      return MapColumns(std::vector<std::string>(cols_.begin(), cols_.end()));
    }
    KS_RETURN_IF_ERROR(header_status_);
    if (!SplitCsvLine(line, o_.delimiter, cols_, scratch_))
      return Status::InvalidArgument("invalid CSV: unbalanced quote");
    if (cols_.size() != columns_)
      return Status::InvalidArgument("invalid CSV: " + std::to_string(cols_.size()) +
                                     " fields, the header has " + std::to_string(columns_));
    values.resize(index_.size());
    for (size_t i = 0; i < index_.size(); ++i) {
      const std::string_view text = cols_[index_[i]];
      values[i] = {IsJsonNumber(text) ? FieldValue::Kind::kNumber : FieldValue::Kind::kString,
                   text};
    }
    return Status::Ok();
  }

 private:
  Status MapColumns(const std::vector<std::string>& header) {
    have_header_ = true;
    columns_ = header.size();
    index_.clear();
    for (const auto& name : names_) {
      size_t i = 0;
      while (i < header.size() && header[i] != name) ++i;
      if (i == header.size()) {
        header_status_ = Status::NotFound("column '" + name + "' is not in the CSV header");
        return header_status_;
      }
      index_.push_back(i);
    }
    return Status::Ok();
  }

  CsvOptions o_;
  std::vector<std::string> names_;
  std::vector<size_t> index_;  // slot -> column
  size_t columns_ = 0;
  bool have_header_ = false;
  Status header_status_;
  std::vector<std::string_view> cols_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<RecordParser> NewJsonParser(const FieldSet& fields) {
  return std::make_unique<JsonParser>(fields);
}

std::unique_ptr<RecordParser> NewCsvParser(const FieldSet& fields, CsvOptions options) {
  return std::make_unique<CsvParser>(fields, std::move(options));
}

bool SplitCsvLine(std::string_view line, char delimiter, std::vector<std::string_view>& out,
                  std::string& scratch) {
  out.clear();
  scratch.clear();
  scratch.reserve(line.size());  // views into scratch stay valid: it never grows past this
  size_t i = 0;
  const size_t n = line.size();
  for (;;) {
    if (i < n && line[i] == '"') {
      const size_t start = scratch.size();
      size_t j = i + 1;
      for (;;) {
        const size_t q = line.find('"', j);
        if (q == std::string_view::npos) return false;
        scratch.append(line.substr(j, q - j));
        if (q + 1 < n && line[q + 1] == '"') {
          scratch += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.emplace_back(scratch.data() + start, scratch.size() - start);
      if (i < n && line[i] != delimiter) return false;
    } else {
      size_t d = line.find(delimiter, i);
      if (d == std::string_view::npos) d = n;
      out.push_back(line.substr(i, d - i));
      i = d;
    }
    if (i >= n) return true;
    ++i;  // the delimiter; a field (maybe empty) follows
  }
}

}  // namespace kstream::window
