#include "log_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "imashim/os/fd.hpp"

namespace imashim::backends::detail {

Result<void> write_log_file(const std::filesystem::path& path, std::string_view data) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return fail("create `" + path.parent_path().string() + "`: " + ec.message(), ec.value());
  auto tmp = path;
  tmp += ".tmp";
  os::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return fail_errno("create `" + tmp.string() + "`");
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return fail_errno("write `" + tmp.string() + "`", err);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd.get()) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail_errno("finish `" + path.string() + "`", err);
  }
  return {};
}

}  // namespace imashim::backends::detail
