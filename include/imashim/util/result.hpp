// Errors as values: every fallible function returns Result<T>; context is added
// going up ("open `config.json`: No such file or directory"); only the CLI exits.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace imashim {

// An error: a message that names the input and what is wrong, and the errno
// behind it when a system call failed (0 otherwise).
class Error {
 public:
  Error() = default;
  explicit Error(std::string message, int sys_errno = 0)
      : message_(std::move(message)), errno_(sys_errno) {}

  // An error from a failed system call: "<what>: <strerror(err)>".
  static Error from_errno(std::string_view what, int err = errno);

  const std::string& message() const { return message_; }
  int sys_errno() const { return errno_; }

  // Prefixes the message with what the caller was doing: "<what>: <message>".
  Error& context(std::string_view what);

 private:
  std::string message_;
  int errno_ = 0;
};

// Wraps an Error for implicit conversion into any Result<T>.
struct Unexpected {
  Error error;
};
inline Unexpected fail(Error e) { return Unexpected{std::move(e)}; }
inline Unexpected fail(std::string message, int sys_errno = 0) {
  return Unexpected{Error(std::move(message), sys_errno)};
}
inline Unexpected fail_errno(std::string_view what, int err = errno) {
  return Unexpected{Error::from_errno(what, err)};
}

// A value or an Error. A small subset of std::expected (C++23).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T fallback) && { return ok() ? std::move(*this).value() : std::move(fallback); }

  Error& error() & { return std::get<1>(v_); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  // The error with context added, ready to return from the caller.
  Unexpected with_context(std::string_view what) && {
    Error e = std::move(*this).error();
    e.context(what);
    return Unexpected{std::move(e)};
  }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected u) : err_(std::move(u.error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }
  Unexpected with_context(std::string_view what) && {
    err_.context(what);
    return Unexpected{std::move(err_)};
  }

 private:
  Error err_;
  bool ok_ = true;
};

}  // namespace imashim

// Propagates an error: `IMASHIM_TRY(auto x, f());` or `IMASHIM_TRY_VOID(g());`.
#define IMASHIM_CONCAT_(a, b) a##b
#define IMASHIM_CONCAT(a, b) IMASHIM_CONCAT_(a, b)
#define IMASHIM_TRY_IMPL_(tmp, decl, expr)          \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return ::imashim::Unexpected{std::move(tmp).error()}; \
  decl = std::move(tmp).value()
#define IMASHIM_TRY(decl, expr) IMASHIM_TRY_IMPL_(IMASHIM_CONCAT(imashim_try_, __LINE__), decl, expr)
#define IMASHIM_TRY_VOID(expr)                                                         \
  do {                                                                                 \
    auto imashim_try_v_ = (expr);                                                      \
    if (!imashim_try_v_.ok()) return ::imashim::Unexpected{std::move(imashim_try_v_).error()}; \
  } while (0)
