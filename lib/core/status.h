// Status and Result<T>: errors travel as values across module boundaries.
//
// A Status is either ok or carries a code and a message that already names what
// failed ("open /x/y: No such file or directory"). Tools turn the code into an
// exit status (kNotFound, kInvalidArgument, kIOError ... -> 1; usage errors are
// found by the flag parser and exit 2) and print the message after their name.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace kstream {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input from the user: a line, a flag value, a name
  kNotFound,         // stream, shard or file missing
  kAlreadyExists,
  kCorruption,          // on-disk data failed a check
  kIOError,             // a system call failed
  kFailedPrecondition,  // e.g. writing to a closed shard, reshard of a closed shard
  kLimitExceeded,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status LimitExceeded(std::string m) { return {StatusCode::kLimitExceeded, std::move(m)}; }
  // "<context>: <strerror(err)>", the one place errno becomes text.
  static Status FromErrno(const std::string& context, int err);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Adds context in front: "open segment: <old message>".
  Status Prefixed(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  Status(StatusCode c, std::string m) : code_(c), message_(std::move(m)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status s) : v_(std::move(s)) {}     // NOLINT: must not be ok
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace kstream

// Early-return helpers, in the style of LevelDB / Abseil.
#define KS_RETURN_IF_ERROR(expr)    \
  do {                              \
    ::kstream::Status _st = (expr); \
    if (!_st.ok()) return _st;      \
  } while (0)

#define KS_CONCAT_INNER(a, b) a##b
#define KS_CONCAT(a, b) KS_CONCAT_INNER(a, b)
#define KS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
#define KS_ASSIGN_OR_RETURN(lhs, expr) \
  KS_ASSIGN_OR_RETURN_IMPL(KS_CONCAT(_res_, __LINE__), lhs, expr)
