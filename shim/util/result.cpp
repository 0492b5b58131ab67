#include "imashim/util/result.hpp"

#include <cstring>

namespace imashim {

Error Error::from_errno(std::string_view what, int err) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return Error(std::move(msg), err);
}

Error& Error::context(std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += message_;
  message_ = std::move(msg);
  return *this;
}

}  // namespace imashim
