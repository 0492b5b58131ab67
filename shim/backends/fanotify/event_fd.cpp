// Reading what a fanotify event tells: the file behind the event fd and the
// process that opened it.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>
#include <cstring>
#include <fstream>
#include <sstream>

#include "monitor_internal.hpp"

namespace imashim::backends::fanotify {
namespace {

constexpr const char* kImaXattr = "security.ima";

// "Uid:\t0\t0\t0\t0" → real, effective.
bool parse_ids(const std::string& line, unsigned& real, unsigned& eff) {
  std::istringstream in(line.substr(line.find(':') + 1));
  return static_cast<bool>(in >> real >> eff);
}

// The event fd's path; "?" when it cannot be read (as the kernel's "?" names).
std::string fd_path(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char buf[4096];
  ssize_t n = ::readlink(link, buf, sizeof buf);
  if (n <= 0) return "?";
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

Result<void> read_status(pid_t pid, FileEvent& e) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  os::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno(path);
  char buf[2048];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return fail_errno(path);
  std::istringstream in(std::string(buf, static_cast<std::size_t>(n)));
  std::string line;
  bool got_uid = false, got_gid = false;
  while (std::getline(in, line) && !(got_uid && got_gid)) {
    unsigned a = 0, b = 0;
    if (line.rfind("Uid:", 0) == 0 && parse_ids(line, a, b)) e.uid = a, e.euid = b, got_uid = true;
    if (line.rfind("Gid:", 0) == 0 && parse_ids(line, a, b)) e.gid = a, e.egid = b, got_gid = true;
  }
  if (!got_uid || !got_gid) return fail(std::string(path) + ": no Uid/Gid lines");
  return {};
}

// Files up to 64 KiB: one pread of the size fstat gave into a per-thread
// buffer (the kernel's ima_calc_file_hash also hashes i_size bytes), no
// allocation, no second read for the end of file. Larger ones: hash_fd.
Result<Bytes> EventFdContent::digest(formats::HashAlgo algo) {
  constexpr std::size_t kSmall = 64 * 1024;
  struct stat st {};
  off_t size = size_ >= 0 ? size_ : ::fstat(fd_, &st) == 0 ? st.st_size : -1;
  if (size >= 0 && static_cast<std::size_t>(size) <= kSmall) {
    thread_local std::vector<std::uint8_t> buf(kSmall);
    std::size_t want = static_cast<std::size_t>(size), got = 0;
    while (got < want) {
      ssize_t n = ::pread(fd_, buf.data() + got, want - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno("pread");
      if (n == 0) break;  // truncated meanwhile: hash what is there
      got += static_cast<std::size_t>(n);
    }
    return formats::hash_bytes(algo, ByteView(buf.data(), got));
  }
  return formats::hash_fd(algo, fd_);
}

Result<std::optional<Bytes>> EventFdContent::ima_xattr() {
  Bytes buf(1024);
  ssize_t n = ::fgetxattr(fd_, kImaXattr, buf.data(), buf.size());
  if (n < 0 && errno == ERANGE) {
    n = ::fgetxattr(fd_, kImaXattr, nullptr, 0);
    if (n > 0) {
      buf.resize(static_cast<std::size_t>(n));
      n = ::fgetxattr(fd_, kImaXattr, buf.data(), buf.size());
    }
  }
  if (n < 0 && (errno == ENODATA || errno == ENOTSUP)) return std::optional<Bytes>();
  if (n < 0) return fail_errno("fgetxattr security.ima");
  buf.resize(static_cast<std::size_t>(n));
  return std::optional<Bytes>(std::move(buf));
}

Result<void> EventFdContent::set_ima_xattr(ByteView value) {
  if (::fsetxattr(fd_, kImaXattr, value.data(), value.size(), 0) != 0) return fail_errno("fsetxattr security.ima");
  return {};
}

Result<Bytes> EventFdContent::head(std::size_t n) {
  Bytes buf(n);
  ssize_t r = ::pread(fd_, buf.data(), n, 0);
  if (r < 0) return fail_errno("pread");
  buf.resize(static_cast<std::size_t>(r));
  return buf;
}

FileVersion version_of(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec,
          st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, st.st_size};
}

Result<void> describe_event(int fd, pid_t pid, const struct stat& st, FileEvent& e, bool want_ids) {
  e.ids_known = false;
  e.pid = pid;
  e.version = version_of(st);
  e.fowner = st.st_uid;
  e.fgroup = st.st_gid;
  e.fmode = st.st_mode;
  // The magic is the superblock's: one fstatfs per device (a container has a handful).
  thread_local std::pair<dev_t, std::uint64_t> last{~dev_t{0}, 0};
  if (last.first != st.st_dev) {
    struct statfs sfs {};
    if (::fstatfs(fd, &sfs) != 0) return fail_errno("fstatfs event fd");
    last = {st.st_dev, static_cast<std::uint64_t>(sfs.f_type)};
  }
  e.fsmagic = last.second;
  // With the mark on the container's own mount, the path is the one the container sees.
  e.path_of = [fd] { return fd_path(fd); };
  if (!want_ids) return {};
  // A process that already exited (the event outlived it) has no status: ids stay unknown.
  auto r = read_status(pid, e);
  if (r) e.ids_known = true;
  if (!r && r.error().sys_errno() != ENOENT) return r;
  return {};
}

}  // namespace imashim::backends::fanotify
