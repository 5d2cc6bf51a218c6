#include "serve/wire.h"

#include <cbor.h>
#include <simdjson.h>

#include "core/text.h"

namespace kstream::serve {

const Value* Value::Find(std::string_view key) const {
  for (const auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}

const char* Value::KindName(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "boolean";
    case Kind::kInt:
    case Kind::kDouble:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kBytes:
      return "byte string";
    case Kind::kArray:
      return "array";
    case Kind::kObject:
      return "object";
  }
  return "?";
}

// ---- JSON ----

namespace {

void FromJson(simdjson::dom::element e, Value& v) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      v.kind = Value::Kind::kObject;
      simdjson::dom::object object;
      if (e.get(object)) break;  // cannot fail: the type was checked
      for (auto field : object) {
        v.members.emplace_back(std::string(field.key), Value{});
        FromJson(field.value, v.members.back().second);
      }
      break;
    }
    case element_type::ARRAY: {
      v.kind = Value::Kind::kArray;
      simdjson::dom::array array;
      if (e.get(array)) break;  // cannot fail: the type was checked
      for (auto item : array) {
        v.items.emplace_back();
        FromJson(item, v.items.back());
      }
      break;
    }
    case element_type::STRING: {
      v.kind = Value::Kind::kString;
      std::string_view text;
      if (e.get(text)) break;  // cannot fail: the type was checked
      v.text = std::string(text);
      break;
    }
    case element_type::INT64:
      v.kind = Value::Kind::kInt;
      if (e.get(v.integer)) break;  // cannot fail: the type was checked
      v.number = double(v.integer);
      break;
    case element_type::UINT64:  // above INT64_MAX: only useful as a number
    case element_type::DOUBLE:
      v.kind = Value::Kind::kDouble;
      if (e.get(v.number)) break;  // cannot fail: the type was checked
      break;
    case element_type::BOOL:
      v.kind = Value::Kind::kBool;
      if (e.get(v.boolean)) break;  // cannot fail: the type was checked
      break;
    case element_type::NULL_VALUE:
      v.kind = Value::Kind::kNull;
      break;
  }
}

}  // namespace

Result<Value> DecodeJson(std::string_view body) {
  Value root;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    root.kind = Value::Kind::kObject;
    return root;
  }
  // One parser per thread: it keeps its buffers between requests.
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element e;
  if (auto err = parser.parse(padded).get(e))
    return Status::InvalidArgument(std::string("malformed JSON: ") + simdjson::error_message(err));
  FromJson(e, root);
  return root;
}

// ---- CBOR (decoding by libcbor) ----

namespace {

// Concatenates a definite or indefinite (chunked) text or byte string.
template <typename Handle, typename Length, typename Chunks, typename Count, typename Indef>
void JoinChunks(const cbor_item_t* item, std::string& out, Handle handle, Length length,
                Chunks chunks, Count count, Indef indefinite) {
  if (!indefinite(item)) {
    out.assign(reinterpret_cast<const char*>(handle(item)), length(item));
    return;
  }
  cbor_item_t** parts = chunks(item);
  for (size_t i = 0; i < count(item); ++i)
    out.append(reinterpret_cast<const char*>(handle(parts[i])), length(parts[i]));
}

constexpr size_t kMaxCborDepth = 64;

// libcbor allocates an array, map or string for its declared length before it
// reads one element, so a 14-byte body declaring 2.6 billion elements made it
// allocate 21 GB (serve_fuzz). This walks the item heads first, allocating
// nothing per element, and refuses a body that does not hold every item it
// declares; what libcbor then allocates is bounded by the body's size.
Status CheckCborFraming(std::string_view body) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(body.data());
  size_t pos = 0;
  auto bad = [&](const char* why) {
    return Status::InvalidArgument("malformed CBOR at byte " + std::to_string(pos) + ": " + why);
  };
  // Items still expected by each open container; kIndefinite until a break.
  constexpr uint64_t kIndefinite = UINT64_MAX;
  std::vector<uint64_t> open;
  for (;;) {
    if (pos >= body.size()) return bad("the body ends inside an item");
    const unsigned major = bytes[pos] >> 5, info = bytes[pos] & 31;
    ++pos;
    uint64_t arg = info;
    if (info >= 24 && info <= 27) {
      const size_t width = size_t(1) << (info - 24);
      if (body.size() - pos < width) return bad("the body ends inside an item head");
      arg = 0;
      for (size_t i = 0; i < width; ++i) arg = arg << 8 | bytes[pos++];
    } else if (info >= 28 && info <= 30) {
      return bad("reserved additional information");
    }
    const bool indefinite = info == 31;
    if (indefinite && (major <= 1 || major == 6)) return bad("indefinite length on a number");
    const uint64_t remaining = body.size() - pos;
    bool complete = true;            // this head is a whole item (not a container)
    if (major == 7 && indefinite) {  // break
      if (open.empty() || open.back() != kIndefinite) return bad("unexpected break");
      open.pop_back();
    } else if ((major == 2 || major == 3) && !indefinite) {
      if (arg > remaining) return bad("a string is longer than the body");
      pos += size_t(arg);
    } else if (major == 2 || major == 3 || major == 4 || major == 5 || major == 6) {
      // Every element takes at least one byte: refuse an impossible count early.
      if (major != 6 && !indefinite && (major == 5 ? arg > remaining / 2 : arg > remaining))
        return bad("a container declares more items than the body holds");
      const uint64_t items = major == 6 ? 1 : major == 5 ? arg * 2 : arg;  // a tag wraps one
      if (open.size() >= kMaxCborDepth) return Status::InvalidArgument("CBOR nested too deeply");
      if (indefinite || items > 0) {
        open.push_back(indefinite ? kIndefinite : items);
        complete = false;
      }
    }
    // A whole item counts toward its container; a full container is itself
    // a whole item of the one around it.
    while (complete) {
      if (open.empty()) return Status::Ok();
      if (open.back() == kIndefinite) break;
      if (--open.back() > 0) break;
      open.pop_back();
    }
  }
}

Status FromCbor(const cbor_item_t* item, Value& v, int depth) {
  if (depth > int(kMaxCborDepth)) return Status::InvalidArgument("CBOR nested too deeply");
  switch (cbor_typeof(item)) {
    case CBOR_TYPE_UINT: {
      const uint64_t u = cbor_get_int(item);
      v.kind = u > uint64_t(INT64_MAX) ? Value::Kind::kDouble : Value::Kind::kInt;
      v.integer = int64_t(u);
      v.number = double(u);
      return Status::Ok();
    }
    case CBOR_TYPE_NEGINT: {
      const uint64_t u = cbor_get_int(item);  // the value is -1 - u
      v.kind = u >= uint64_t(INT64_MAX) ? Value::Kind::kDouble : Value::Kind::kInt;
      v.integer = -1 - int64_t(u);
      v.number = -1.0 - double(u);
      return Status::Ok();
    }
    case CBOR_TYPE_BYTESTRING:
      v.kind = Value::Kind::kBytes;
      JoinChunks(item, v.text, cbor_bytestring_handle, cbor_bytestring_length,
                 cbor_bytestring_chunks_handle, cbor_bytestring_chunk_count,
                 cbor_bytestring_is_indefinite);
      return Status::Ok();
    case CBOR_TYPE_STRING:
      v.kind = Value::Kind::kString;
      JoinChunks(item, v.text, cbor_string_handle, cbor_string_length, cbor_string_chunks_handle,
                 cbor_string_chunk_count, cbor_string_is_indefinite);
      if (!IsValidUtf8(v.text)) return Status::InvalidArgument("CBOR text string is not UTF-8");
      return Status::Ok();
    case CBOR_TYPE_ARRAY: {
      v.kind = Value::Kind::kArray;
      v.items.resize(cbor_array_size(item));
      cbor_item_t** items = cbor_array_handle(item);
      for (size_t i = 0; i < v.items.size(); ++i)
        KS_RETURN_IF_ERROR(FromCbor(items[i], v.items[i], depth + 1));
      return Status::Ok();
    }
    case CBOR_TYPE_MAP: {
      v.kind = Value::Kind::kObject;
      cbor_pair* pairs = cbor_map_handle(item);
      v.members.resize(cbor_map_size(item));
      for (size_t i = 0; i < v.members.size(); ++i) {
        Value key;
        KS_RETURN_IF_ERROR(FromCbor(pairs[i].key, key, depth + 1));
        if (key.kind != Value::Kind::kString)
          return Status::InvalidArgument("CBOR map key is not a text string");
        v.members[i].first = std::move(key.text);
        KS_RETURN_IF_ERROR(FromCbor(pairs[i].value, v.members[i].second, depth + 1));
      }
      return Status::Ok();
    }
    case CBOR_TYPE_TAG: {
      cbor_item_t* inner = cbor_tag_item(item);  // a new reference
      Status s = FromCbor(inner, v, depth + 1);
      cbor_decref(&inner);
      if (cbor_tag_value(item) == 1) v.epoch_tag = true;
      return s;
    }
    case CBOR_TYPE_FLOAT_CTRL:
      // Floats first: libcbor 0.8's cbor_is_bool asserts (aborts) on a float.
      if (!cbor_float_ctrl_is_ctrl(item)) {
        v.kind = Value::Kind::kDouble;
        v.number = cbor_float_get_float(item);
        return Status::Ok();
      }
      switch (cbor_ctrl_value(item)) {
        case CBOR_CTRL_FALSE:
        case CBOR_CTRL_TRUE:
          v.kind = Value::Kind::kBool;
          v.boolean = cbor_ctrl_value(item) == CBOR_CTRL_TRUE;
          return Status::Ok();
        case CBOR_CTRL_NULL:
        case CBOR_CTRL_UNDEF:
          v.kind = Value::Kind::kNull;
          return Status::Ok();
        default:
          return Status::InvalidArgument("unexpected CBOR simple value");
      }
  }
  return Status::InvalidArgument("unexpected CBOR item");
}

}  // namespace

Result<Value> DecodeCbor(std::string_view body) {
  Value root;
  if (body.empty()) {
    root.kind = Value::Kind::kObject;
    return root;
  }
  KS_RETURN_IF_ERROR(CheckCborFraming(body));
  cbor_load_result result;
  cbor_item_t* item =
      cbor_load(reinterpret_cast<const unsigned char*>(body.data()), body.size(), &result);
  if (!item || result.error.code != CBOR_ERR_NONE)
    return Status::InvalidArgument("malformed CBOR at byte " +
                                   std::to_string(result.error.position));
  Status s = result.read == body.size()
                 ? FromCbor(item, root, 0)
                 : Status::InvalidArgument("trailing bytes after the CBOR item");
  cbor_decref(&item);
  if (!s.ok()) return s;
  return root;
}

// ---- Writer ----

void Writer::Separate() {
  if (encoding_ != Encoding::kJson) return;
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (first_.empty()) return;
  if (!first_.back()) out_ += ',';
  first_.back() = false;
}

namespace {
// Appends what a libcbor cbor_encode_* call writes (9 bytes at most).
template <typename F>
void AppendCbor(std::string& out, F encode) {
  unsigned char buf[16];
  const size_t n = encode(buf, sizeof(buf));
  out.append(reinterpret_cast<const char*>(buf), n);
}
}  // namespace

void Writer::BeginObject() {
  Separate();
  if (encoding_ == Encoding::kCbor)
    return AppendCbor(out_,
                      [](unsigned char* b, size_t n) { return cbor_encode_indef_map_start(b, n); });
  out_ += '{';
  first_.push_back(true);
}

void Writer::EndObject() {
  if (encoding_ == Encoding::kCbor)
    return AppendCbor(out_, [](unsigned char* b, size_t n) { return cbor_encode_break(b, n); });
  out_ += '}';
  first_.pop_back();
}

void Writer::BeginArray() {
  Separate();
  if (encoding_ == Encoding::kCbor)
    return AppendCbor(
        out_, [](unsigned char* b, size_t n) { return cbor_encode_indef_array_start(b, n); });
  out_ += '[';
  first_.push_back(true);
}

void Writer::EndArray() {
  if (encoding_ == Encoding::kCbor)
    return AppendCbor(out_, [](unsigned char* b, size_t n) { return cbor_encode_break(b, n); });
  out_ += ']';
  first_.pop_back();
}

void Writer::Key(std::string_view key) {
  String(key);
  if (encoding_ == Encoding::kJson) {
    out_ += ':';
    after_key_ = true;
  }
}

void Writer::String(std::string_view s) {
  Separate();
  if (encoding_ == Encoding::kJson) return AppendJsonString(out_, s);
  AppendCbor(out_,
             [&](unsigned char* b, size_t n) { return cbor_encode_string_start(s.size(), b, n); });
  out_.append(s);
}

void Writer::Blob(std::string_view bytes) {
  Separate();
  if (encoding_ == Encoding::kJson) {
    out_ += '"';
    AppendBase64(out_, bytes);
    out_ += '"';
    return;
  }
  AppendCbor(out_, [&](unsigned char* b, size_t n) {
    return cbor_encode_bytestring_start(bytes.size(), b, n);
  });
  out_.append(bytes);
}

void Writer::Int(int64_t v) {
  Separate();
  if (encoding_ == Encoding::kJson) {
    out_ += std::to_string(v);
    return;
  }
  AppendCbor(out_, [&](unsigned char* b, size_t n) {
    return v >= 0 ? cbor_encode_uint(uint64_t(v), b, n)
                  : cbor_encode_negint(uint64_t(-1 - v), b, n);
  });
}

void Writer::Bool(bool v) {
  Separate();
  if (encoding_ == Encoding::kJson) {
    out_ += v ? "true" : "false";
    return;
  }
  AppendCbor(out_, [&](unsigned char* b, size_t n) { return cbor_encode_bool(v, b, n); });
}

void Writer::Null() {
  Separate();
  if (encoding_ == Encoding::kJson) {
    out_ += "null";
    return;
  }
  AppendCbor(out_, [](unsigned char* b, size_t n) { return cbor_encode_null(b, n); });
}

void Writer::Timestamp(int64_t epoch_ms) {
  if (encoding_ == Encoding::kJson) {
    Separate();
    AppendEpochSeconds(out_, epoch_ms);
    return;
  }
  Separate();
  AppendCbor(out_, [](unsigned char* b, size_t n) { return cbor_encode_tag(1, b, n); });
  AppendCbor(out_, [&](unsigned char* b, size_t n) {
    return epoch_ms >= 0 ? cbor_encode_uint(uint64_t(epoch_ms), b, n)
                         : cbor_encode_negint(uint64_t(-1 - epoch_ms), b, n);
  });
}

}  // namespace kstream::serve
