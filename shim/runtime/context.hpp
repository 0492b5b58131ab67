// Adds context to a Result's error, keeping the Result (for IMASHIM_TRY).
#pragma once

#include <string_view>

#include "imashim/util/result.hpp"

namespace imashim::runtime {

template <typename T>
Result<T> in_context(Result<T> r, std::string_view what) {
  if (r) return r;
  return std::move(r).with_context(what);
}

}  // namespace imashim::runtime
