// Whole-file reads with errors that name the file.
#pragma once

#include <filesystem>
#include <string>

#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::os {

// The whole content of `path` ("-" is stdin). Unlike an ifstream, a directory
// or a failing read is an error: "read `PATH`: Is a directory".
// Reads sequentially: securityfs files report size 0 and refuse pread.
Result<std::string> read_file(const std::filesystem::path& path);
Result<Bytes> read_file_bytes(const std::filesystem::path& path);

}  // namespace imashim::os
