// Status and Result<T>: errors as values.
//
// Every fallible call that crosses a folder boundary returns a Status (or a Result<T>, which holds
// either a T or a non-OK Status). No exception crosses a folder. A Status is cheap when OK.
// A *finding* (a broken chain, an uncited claim) is not an error: it is returned as a value.
// Status is reserved for "could not check".
//
// Thread-safety: values; copy freely.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <variant>

namespace fasten {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad flags, bad tool arguments, malformed input
  kNotFound,            // a file, table or row that does not exist
  kFailedPrecondition,  // unsupported store schema; nothing helps until state is fixed
  kUnavailable,         // store or provider down; the same call may succeed later
  kDeadlineExceeded,
  kResourceExhausted,  // limits, cost caps
  kDataLoss,           // unreadable rows
  kPermissionDenied,
  kUnauthenticated,
  kCancelled,
  kAborted,  // retry at a higher level (e.g. rescan in another order)
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  const std::string& message() const;
  // "NotFound: table 'audit_log' not found in /x.db".
  std::string ToString() const;

  // Returns a copy whose message is "context: message".
  Status WithContext(const std::string& context) const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;  // null when OK
};

inline Status InvalidArgumentError(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status NotFoundError(std::string m) {
  return Status(StatusCode::kNotFound, std::move(m));
}
inline Status FailedPreconditionError(std::string m) {
  return Status(StatusCode::kFailedPrecondition, std::move(m));
}
inline Status UnavailableError(std::string m) {
  return Status(StatusCode::kUnavailable, std::move(m));
}
inline Status DataLossError(std::string m) {
  return Status(StatusCode::kDataLoss, std::move(m));
}
inline Status CancelledError(std::string m) {
  return Status(StatusCode::kCancelled, std::move(m));
}
inline Status AbortedError(std::string m) {
  return Status(StatusCode::kAborted, std::move(m));
}
inline Status InternalError(std::string m) {
  return Status(StatusCode::kInternal, std::move(m));
}
inline Status ResourceExhaustedError(std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(m));
}

// Result<T> holds either a T or a non-OK Status. Check ok() before value().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from OK");
  }

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
  std::variant<Status, T> v_;
};

#define FASTEN_RETURN_IF_ERROR(expr) \
  do {                               \
    ::fasten::Status _st = (expr);   \
    if (!_st.ok()) return _st;       \
  } while (0)

}  // namespace fasten
