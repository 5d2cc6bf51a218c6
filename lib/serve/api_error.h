// Errors as the Kinesis API reports them: an exception name (the __type of
// the body and the x-amzn-ErrorType header), a message and an HTTP status.
// Handlers return them as values, like Status in the rest of the library.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "core/status.h"

namespace kstream::serve {

struct ApiError {
  std::string type;  // "ResourceNotFoundException", ...
  std::string message;
  int http_status = 400;

  static ApiError Validation(std::string m) { return {"ValidationException", std::move(m)}; }
  static ApiError Serialization(std::string m) { return {"SerializationException", std::move(m)}; }
  static ApiError InvalidArgument(std::string m) {
    return {"InvalidArgumentException", std::move(m)};
  }
  static ApiError NotFound(std::string m) { return {"ResourceNotFoundException", std::move(m)}; }
  static ApiError InUse(std::string m) { return {"ResourceInUseException", std::move(m)}; }
  static ApiError LimitExceeded(std::string m) { return {"LimitExceededException", std::move(m)}; }
  static ApiError Throttled(std::string m) {
    return {"ProvisionedThroughputExceededException", std::move(m)};
  }
  static ApiError Internal(std::string m) { return {"InternalFailure", std::move(m), 500}; }
};

// The error a store Status becomes when no handler-specific mapping applies.
ApiError FromStatus(const Status& status);

// Ok, or an ApiError.
class [[nodiscard]] ApiStatus {
 public:
  ApiStatus() = default;
  ApiStatus(ApiError e) : error_(std::move(e)), ok_(false) {}  // NOLINT: implicit by design
  bool ok() const { return ok_; }
  const ApiError& error() const { return error_; }

 private:
  ApiError error_;
  bool ok_ = true;
};

template <typename T>
class [[nodiscard]] ApiOr {
 public:
  ApiOr(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  ApiOr(ApiError e) : v_(std::move(e)) {}           // NOLINT
  ApiOr(ApiStatus s) : v_(std::move(s.error())) {}  // NOLINT: must not be ok
  bool ok() const { return std::holds_alternative<T>(v_); }
  ApiStatus status() const { return ok() ? ApiStatus() : ApiStatus(std::get<ApiError>(v_)); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace kstream::serve

#define API_RETURN_IF_ERROR(expr)             \
  do {                                        \
    ::kstream::serve::ApiStatus _as = (expr); \
    if (!_as.ok()) return _as;                \
  } while (0)

#define API_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
#define API_ASSIGN_OR_RETURN(lhs, expr) \
  API_ASSIGN_OR_RETURN_IMPL(KS_CONCAT(_api_, __LINE__), lhs, expr)

// A store call inside a handler: its failure becomes FromStatus(status).
#define API_RETURN_IF_STORE_ERROR(expr)                                 \
  do {                                                                  \
    ::kstream::Status _st = (expr);                                     \
    if (!_st.ok()) return ::kstream::serve::ApiStatus(FromStatus(_st)); \
  } while (0)
