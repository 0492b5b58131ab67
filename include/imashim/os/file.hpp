// Whole-file reads with errors that name the file.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::os {

// The whole content of `path` ("-" is stdin). Unlike an ifstream, a directory
// or a failing read is an error: "read `PATH`: Is a directory".
// Reads sequentially: securityfs files report size 0 and refuse pread.
Result<std::string> read_file(const std::filesystem::path& path);
Result<Bytes> read_file_bytes(const std::filesystem::path& path);

// Replaces `path` with `data` so that a reader, or the file after a crash, is the
// old content or the new, never a part: a temp file beside it (never following a
// symlink), fsync, rename over `path`, fsync of the directory.
Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view data, mode_t mode = 0644);

}  // namespace imashim::os
