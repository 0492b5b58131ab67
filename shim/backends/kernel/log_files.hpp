// Writing a container's finished log files: whole or not at all.
#pragma once

#include <filesystem>
#include <string_view>

#include "imashim/util/result.hpp"

namespace imashim::backends::detail {

// Writes `data` to a temporary file beside `path`, fsyncs it and renames it
// into place, so a reader never sees a half-written log.
Result<void> write_log_file(const std::filesystem::path& path, std::string_view data);

}  // namespace imashim::backends::detail
