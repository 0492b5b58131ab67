#include "imashim/os/file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "imashim/os/fd.hpp"

namespace imashim::os {
namespace {

template <class Buffer>
Result<Buffer> read_all(const std::filesystem::path& path) {
  const bool from_stdin = path == "-";
  UniqueFd owned(from_stdin ? -1 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!from_stdin && !owned) return fail_errno("open `" + path.string() + "`");
  const int fd = from_stdin ? STDIN_FILENO : owned.get();
  Buffer out;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return out;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read `" + (from_stdin ? std::string("standard input") : path.string()) + "`");
    out.insert(out.end(), buf, buf + n);
  }
}

}  // namespace

Result<std::string> read_file(const std::filesystem::path& path) { return read_all<std::string>(path); }
Result<Bytes> read_file_bytes(const std::filesystem::path& path) { return read_all<Bytes>(path); }

}  // namespace imashim::os
