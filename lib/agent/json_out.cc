#include "agent/json_out.h"

#include <charconv>

#include "core/text.h"

namespace kstream::agent {

void JsonObjectWriter::Key(std::string_view name) {
  if (!first_) out_ += ',';
  first_ = false;
  if (pretty_) out_ += "\n  ";
  AppendJsonString(out_, name);
  out_ += pretty_ ? " : " : ":";
}

void JsonObjectWriter::Field(std::string_view name, std::optional<std::string_view> value) {
  Key(name);
  if (value)
    AppendJsonString(out_, *value);
  else
    out_ += "null";
}

void JsonObjectWriter::RawField(std::string_view name, std::string_view json) {
  Key(name);
  out_ += json;
}

void JsonObjectWriter::End() {
  if (pretty_) out_ += first_ ? " " : "\n";
  out_ += '}';
}

namespace {

void Indent(std::string& out, int depth) {
  out += '\n';
  out.append(size_t(depth) * 2, ' ');
}

}  // namespace

void AppendJsonValue(simdjson::dom::element value, JsonFormat format, int depth, std::string& out) {
  const bool pretty = format == JsonFormat::kPretty;
  switch (value.type()) {
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object obj;
      [[maybe_unused]] auto obj_err = value.get_object().get(obj);  // type checked above
      out += '{';
      bool first = true;
      for (auto field : obj) {
        if (!first) out += ',';
        first = false;
        if (pretty) Indent(out, depth + 1);
        AppendJsonString(out, field.key);
        out += pretty ? " : " : ":";
        AppendJsonValue(field.value, format, depth + 1, out);
      }
      if (pretty) {
        if (first)
          out += ' ';
        else
          Indent(out, depth);
      }
      out += '}';
      break;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array arr;
      [[maybe_unused]] auto arr_err = value.get_array().get(arr);  // type checked above
      out += '[';
      bool first = true;
      for (auto item : arr) {
        if (!first)
          out += pretty ? ", " : ",";
        else if (pretty)
          out += ' ';
        first = false;
        AppendJsonValue(item, format, depth, out);
      }
      if (pretty) out += ' ';
      out += ']';
      break;
    }
    case simdjson::dom::element_type::STRING:
      AppendJsonString(out, value.get_string().value_unsafe());
      break;
    case simdjson::dom::element_type::INT64:
      out += std::to_string(value.get_int64().value_unsafe());
      break;
    case simdjson::dom::element_type::UINT64:
      out += std::to_string(value.get_uint64().value_unsafe());
      break;
    case simdjson::dom::element_type::DOUBLE: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof(buf), value.get_double().value_unsafe());
      out.append(buf, r.ptr);
      break;
    }
    case simdjson::dom::element_type::BOOL:
      out += value.get_bool().value_unsafe() ? "true" : "false";
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      out += "null";
      break;
  }
}

}  // namespace kstream::agent
