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

Result<void> write_file_atomic(const std::filesystem::path& target, std::string_view data, mode_t mode) {
  const std::string path = target.string();
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return fail_errno("create `" + tmp + "`");
  auto cleanup = [&] { ::unlink(tmp.c_str()); };
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto e = fail_errno("write `" + tmp + "`");
      cleanup();
      return e;
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    auto e = fail_errno("fsync `" + tmp + "`");
    cleanup();
    return e;
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = fail_errno("rename `" + tmp + "` to `" + path + "`");
    cleanup();
    return e;
  }
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());
  return {};
}

}  // namespace imashim::os
