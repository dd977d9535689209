// Result<T>: the value of an operation that can fail in an expected way (bad input, a
// missing file), or an Error saying what went wrong and where. Bugs do not use this: they
// abort through COEDGE_CHECK with file and line.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace coedge {

enum class ErrorCode { kInvalidInput, kNotFound, kIo, kUnsupported };

struct Error {
  ErrorCode code = ErrorCode::kInvalidInput;
  std::string message;  // complete, user-facing: what, where and why
};

// The two most common errors, by their code.
inline Error invalid_input(std::string message) {
  return Error{ErrorCode::kInvalidInput, std::move(message)};
}
inline Error not_found(std::string message) { return Error{ErrorCode::kNotFound, std::move(message)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> v_;
};

// A Result without a value.
struct Ok {};
using Status = Result<Ok>;

[[noreturn]] inline void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "coedge: internal error: check '%s' failed at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace coedge

#define COEDGE_CHECK(expr) \
  ((expr) ? static_cast<void>(0) : ::coedge::check_failed(#expr, __FILE__, __LINE__))
