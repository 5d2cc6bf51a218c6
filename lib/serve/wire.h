// The two encodings of the Kinesis API, behind one document model: JSON
// (application/x-amz-json-1.1: the AWS CLI, boto3, the JavaScript SDK) and
// CBOR (application/x-amz-cbor-1.1: the Java SDKs, so the KCL and the Spark
// and Flink connectors).
//
// They differ where values are not plain: a blob (record data) is base64 text
// in JSON and a byte string in CBOR; a timestamp is epoch seconds with a
// millisecond fraction in JSON and tag 1 over integer epoch milliseconds in
// CBOR (what the Java SDKs write and expect: UNIX_TIMESTAMP_MILLIS).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace kstream::serve {

enum class Encoding { kJson, kCbor };

// A decoded request body. Objects keep their members in wire order.
struct Value {
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kBytes, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  bool epoch_tag = false;  // CBOR tag 1 (a date-time as an epoch number)
  std::string text;        // kString and kBytes
  std::vector<Value> items;
  // Name and value in wire order. Member is defined below, where Value is
  // complete (a std::pair of Value would need Value complete here, which
  // clang with libstdc++ enforces).
  struct Member;
  std::vector<Member> members;

  // The member named key of an object, or null.
  const Value* Find(std::string_view key) const;
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kDouble; }
  // "string", "number", ... for messages.
  static const char* KindName(Kind kind);
};
struct Value::Member {
  Member() = default;
  Member(std::string name, Value value) : first(std::move(name)), second(std::move(value)) {}
  std::string first;
  Value second;
};

// Parses a request body; kInvalidArgument with the parser's reason when it is
// not well-formed. An empty body is an empty object (as the service treats it).
Result<Value> DecodeJson(std::string_view body);
Result<Value> DecodeCbor(std::string_view body);

// Builds a response body in either encoding. Calls must nest properly:
// inside an object every value is preceded by Key(). Not thread-safe.
class Writer {
 public:
  explicit Writer(Encoding encoding) : encoding_(encoding) {}

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  void String(std::string_view s);
  // Binary data: base64 in JSON, a byte string in CBOR.
  void Blob(std::string_view bytes);
  void Int(int64_t v);
  void Bool(bool v);
  void Null();
  // Epoch milliseconds: 1700000000.123 in JSON, tag 1 + integer ms in CBOR.
  void Timestamp(int64_t epoch_ms);

  Encoding encoding() const { return encoding_; }
  std::string& body() { return out_; }

 private:
  void Separate();  // JSON: a comma before every element but the first

  Encoding encoding_;
  std::string out_;
  std::vector<bool> first_;  // JSON: per open container, no element yet
  bool after_key_ = false;
};

}  // namespace kstream::serve
