// A rootfs scan for the generator: every regular file with its owner, mode and
// ELF type. Untrusted content: every step is openat() relative to the parent
// directory with O_NOFOLLOW, so a symlink never leads out of the rootfs, and
// directories on another filesystem (mounts) are not entered.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "imashim/os/fd.hpp"
#include "imashim/policy/generate.hpp"

namespace imashim::policy {
namespace {

struct Dir {
  os::UniqueFd fd;
  std::string path;  // inside the image, "" for the root
};

ElfType read_elf_type(int dirfd, const char* name) {
  os::UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd) return ElfType::none;
  char buf[20];
  ssize_t n = ::pread(fd.get(), buf, sizeof buf, 0);
  return n > 0 ? elf_type_of({buf, static_cast<std::size_t>(n)}) : ElfType::none;
}

Result<void> scan_dir(Dir dir, dev_t dev, std::vector<Dir>& stack, std::vector<ImageFile>& out) {
  DIR* d = ::fdopendir(dir.fd.get());
  if (!d) return fail_errno(fmt::format("open directory `{}/`", dir.path));
  dir.fd.release();  // owned by `d` now
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  int dfd = ::dirfd(d);
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = dir.path + "/" + std::string(name);
    struct stat st {};
    if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      return fail_errno(fmt::format("stat `{}`", path));
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) continue;  // a mount inside the rootfs: not image content
      int fd = ::openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return fail_errno(fmt::format("open directory `{}`", path));
      stack.push_back({os::UniqueFd(fd), path});
    } else if (S_ISREG(st.st_mode)) {
      out.push_back({path, static_cast<std::uint32_t>(st.st_mode & 07777), st.st_uid, st.st_gid,
                     static_cast<std::uint64_t>(st.st_size), read_elf_type(dfd, e->d_name)});
    }
    errno = 0;
  }
  if (errno != 0) return fail_errno(fmt::format("read directory `{}/`", dir.path));
  return {};
}

}  // namespace

Result<std::vector<ImageFile>> scan_rootfs(const std::filesystem::path& root) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail_errno(fmt::format("open rootfs `{}`", root.string()));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return fail_errno(fmt::format("stat rootfs `{}`", root.string()));
  }
  std::vector<ImageFile> files;
  std::vector<Dir> stack;
  stack.push_back({os::UniqueFd(fd), ""});
  while (!stack.empty()) {
    Dir d = std::move(stack.back());
    stack.pop_back();
    auto r = scan_dir(std::move(d), st.st_dev, stack, files);
    if (!r.ok()) return std::move(r).with_context(fmt::format("rootfs `{}`", root.string()));
  }
  std::sort(files.begin(), files.end(), [](const ImageFile& a, const ImageFile& b) { return a.path < b.path; });
  return files;
}

}  // namespace imashim::policy
