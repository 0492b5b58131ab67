// The safe tree walk (walk.hpp).
#include "imashim/label/walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

namespace imashim::label {

namespace {

constexpr int kMaxDepth = 512;  // deeper trees are hostile: stop before running out of fds

struct TypeName {
  EntryType type;
  std::string_view name;
};
constexpr TypeName kTypeNames[] = {
    {EntryType::regular, "regular file"}, {EntryType::directory, "directory"},
    {EntryType::symlink, "symlink"},      {EntryType::fifo, "fifo"},
    {EntryType::socket, "socket"},        {EntryType::char_device, "character device"},
    {EntryType::block_device, "block device"}, {EntryType::unknown, "unknown file type"},
};

struct DtType {
  unsigned char dt;
  EntryType type;
};
constexpr DtType kDtTypes[] = {
    {DT_REG, EntryType::regular}, {DT_DIR, EntryType::directory}, {DT_LNK, EntryType::symlink},
    {DT_FIFO, EntryType::fifo},   {DT_SOCK, EntryType::socket},   {DT_CHR, EntryType::char_device},
    {DT_BLK, EntryType::block_device},
};

EntryType type_from_dt(unsigned char dt) {
  for (const auto& t : kDtTypes)
    if (t.dt == dt) return t.type;
  return EntryType::unknown;
}

std::atomic<bool> g_have_openat2{true};

EntryStat from_statx(const struct statx& sx) {
  EntryStat st;
  st.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  st.ino = sx.stx_ino;
  st.mnt_id = sx.stx_mnt_id;
  st.size = sx.stx_size;
  st.mode = sx.stx_mode;
  st.uid = sx.stx_uid;
  st.gid = sx.stx_gid;
  st.nlink = sx.stx_nlink;
  st.mtime_sec = sx.stx_mtime.tv_sec;
  st.mtime_nsec = sx.stx_mtime.tv_nsec;
  return st;
}

Result<EntryStat> stat_at(int dirfd, const char* name, int flags) {
  struct statx sx {};
  if (::statx(dirfd, name, flags | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_MNT_ID, &sx) != 0)
    return fail_errno("statx");
  return from_statx(sx);
}

// A problem opening an entry, classified: a symlink or a mount point (swapped in after
// readdir, or bind-mounted) is skipped; anything else is a failure.
struct OpenProblem {
  int err;
  WalkIssue::Kind kind;
  EntryType type;
  std::string_view reason;
};
constexpr OpenProblem kOpenProblems[] = {
    {ELOOP, WalkIssue::Kind::skipped, EntryType::symlink, "symlink: not followed"},
    {EXDEV, WalkIssue::Kind::skipped, EntryType::directory, "mount point: not crossed"},
    {ENOENT, WalkIssue::Kind::failed, EntryType::unknown, "vanished during the walk"},
    {ENXIO, WalkIssue::Kind::skipped, EntryType::socket, "socket: not a regular file"},
};

class Walker {
 public:
  Walker(const WalkVisitor& v, const WalkOptions& o) : v_(v), o_(o) {}

  Result<WalkCounts> run(const std::string& root) {
    os::UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return fail_errno("open directory `" + root + "`");
    IMASHIM_TRY(EntryStat st, stat_fd(fd.get()));
    root_mnt_ = st.mnt_id;
    root_dev_ = st.dev;
    counts_.dirs = 1;
    walk_dir(fd.get(), "", 0);
    return counts_;
  }

 private:
  void issue(WalkIssue::Kind kind, std::string path, EntryType type, std::string reason, int err = 0) {
    (kind == WalkIssue::Kind::skipped ? counts_.skipped : counts_.failed)++;
    if (v_.on_issue) v_.on_issue(WalkIssue{kind, std::move(path), type, std::move(reason), err});
  }

  void open_problem(const std::string& path, EntryType type, int err) {
    if (err == ELOOP) {
      // A symlink where readdir saw something else: it was swapped in. Never followed.
      counts_.symlinks++;
      if (type != EntryType::symlink)
        issue(WalkIssue::Kind::skipped, path, EntryType::symlink, "became a symlink during the walk: not followed", err);
      return;
    }
    for (const auto& p : kOpenProblems)
      if (p.err == err) return issue(p.kind, path, type == EntryType::unknown ? p.type : type, std::string(p.reason), err);
    issue(WalkIssue::Kind::failed, path, type, std::string("cannot open: ") + std::strerror(err), err);
  }

  bool other_mount(const EntryStat& st) const { return st.mnt_id != root_mnt_ || st.dev != root_dev_; }

  void visit_file(int dirfd, const char* name, std::string path) {
    if (o_.before_open) o_.before_open(path);
    WalkFile f;
    f.path = std::move(path);
    if (o_.open_files) {
      auto fd = open_beneath(dirfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
      if (!fd) return open_problem(f.path, EntryType::regular, fd.error().sys_errno());
      auto st = stat_fd(fd->get());
      if (!st) return issue(WalkIssue::Kind::failed, f.path, EntryType::regular, st.error().message(), st.error().sys_errno());
      f.st = *st;
      f.fd = std::move(*fd);
    } else {
      auto st = stat_at(dirfd, name, AT_SYMLINK_NOFOLLOW);
      if (!st) return open_problem(f.path, EntryType::regular, st.error().sys_errno());
      f.st = *st;
    }
    EntryType type = entry_type_from_mode(f.st.mode);
    if (type == EntryType::symlink) return open_problem(f.path, EntryType::regular, ELOOP);
    if (type != EntryType::regular)
      return issue(WalkIssue::Kind::skipped, f.path, type, std::string(entry_type_name(type)) + ": not a regular file");
    if (other_mount(f.st)) return issue(WalkIssue::Kind::skipped, f.path, type, "mount point: not crossed");
    std::int64_t index = next_index_++;
    if (f.st.nlink > 1) {
      auto [it, inserted] = seen_.try_emplace({f.st.dev, f.st.ino}, index);
      if (!inserted) {
        f.link_of = it->second;
        f.fd.reset();
        counts_.hardlinks++;
      }
    }
    counts_.files++;
    if (f.link_of < 0) counts_.bytes += f.st.size;
    v_.on_file(std::move(f));
  }

  void visit_dir(int dirfd, const char* name, const std::string& path, int depth) {
    if (depth >= kMaxDepth) return issue(WalkIssue::Kind::failed, path, EntryType::directory, "directory nesting too deep");
    if (o_.before_open) o_.before_open(path);
    auto fd = open_beneath(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!fd) {
      int err = fd.error().sys_errno();
      // ENOTDIR: a file was swapped in for the directory; not followed either way.
      if (err == ENOTDIR) return issue(WalkIssue::Kind::skipped, path, EntryType::unknown, "no longer a directory");
      return open_problem(path, EntryType::directory, err);
    }
    auto st = stat_fd(fd->get());
    if (!st) return issue(WalkIssue::Kind::failed, path, EntryType::directory, st.error().message(), st.error().sys_errno());
    if (other_mount(*st)) return issue(WalkIssue::Kind::skipped, path, EntryType::directory, "mount point: not crossed");
    counts_.dirs++;
    walk_dir(fd->get(), path, depth + 1);
  }

  void walk_dir(int fd, const std::string& prefix, int depth) {
    std::vector<std::pair<std::string, unsigned char>> names;
    {
      int dup_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
      DIR* dir = dup_fd >= 0 ? ::fdopendir(dup_fd) : nullptr;
      if (!dir) {
        int err = errno;
        if (dup_fd >= 0) ::close(dup_fd);
        return issue(WalkIssue::Kind::failed, prefix.empty() ? "/" : prefix, EntryType::directory, std::strerror(err), err);
      }
      while (struct dirent* de = ::readdir(dir)) {
        if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
        names.emplace_back(de->d_name, de->d_type);
      }
      ::closedir(dir);
    }
    for (auto& [name, dt] : names) {
      std::string path = prefix + "/" + name;
      EntryType type = type_from_dt(dt);
      if (type == EntryType::unknown) {
        auto st = stat_at(fd, name.c_str(), AT_SYMLINK_NOFOLLOW);
        if (!st) {
          open_problem(path, EntryType::unknown, st.error().sys_errno());
          continue;
        }
        type = entry_type_from_mode(st->mode);
      }
      switch (type) {
        case EntryType::regular: visit_file(fd, name.c_str(), std::move(path)); break;
        case EntryType::directory: visit_dir(fd, name.c_str(), path, depth); break;
        case EntryType::symlink: counts_.symlinks++; break;
        default:
          issue(WalkIssue::Kind::skipped, std::move(path), type, std::string(entry_type_name(type)) + ": not a regular file");
      }
    }
  }

  const WalkVisitor& v_;
  const WalkOptions& o_;
  WalkCounts counts_;
  std::uint64_t root_mnt_ = 0;
  std::uint64_t root_dev_ = 0;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::int64_t> seen_;
  std::int64_t next_index_ = 0;
};

}  // namespace

std::string_view entry_type_name(EntryType type) {
  for (const auto& t : kTypeNames)
    if (t.type == type) return t.name;
  return "unknown file type";
}

EntryType entry_type_from_mode(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return EntryType::regular;
    case S_IFDIR: return EntryType::directory;
    case S_IFLNK: return EntryType::symlink;
    case S_IFIFO: return EntryType::fifo;
    case S_IFSOCK: return EntryType::socket;
    case S_IFCHR: return EntryType::char_device;
    case S_IFBLK: return EntryType::block_device;
    default: return EntryType::unknown;
  }
}

Result<EntryStat> stat_fd(int fd) { return stat_at(fd, "", AT_EMPTY_PATH); }

Result<os::UniqueFd> open_beneath(int dirfd, const char* name, int flags) {
  if (std::strchr(name, '/') != nullptr || std::strcmp(name, "..") == 0 || std::strcmp(name, ".") == 0)
    return fail(std::string("not a single path component: `") + name + "`", EINVAL);
  if (g_have_openat2.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = static_cast<std::uint64_t>(flags | O_NOFOLLOW);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; attempt++) {
      long fd = ::syscall(SYS_openat2, dirfd, name, &how, sizeof how);
      if (fd >= 0) return os::UniqueFd(static_cast<int>(fd));
      // EAGAIN: a concurrent rename made the kernel give up; retry a few times.
      if (errno == EINTR || (errno == EAGAIN && attempt < 8)) continue;
      if (errno != ENOSYS) return fail_errno(std::string("open `") + name + "`");
      g_have_openat2.store(false);
      break;
    }
  }
  // Without openat2: O_NOFOLLOW refuses a final symlink (the only component); a mount
  // point is caught by the caller's mount-id check.
  int fd = ::openat(dirfd, name, flags | O_NOFOLLOW);
  if (fd < 0) return fail_errno(std::string("open `") + name + "`");
  return os::UniqueFd(fd);
}

Result<WalkCounts> walk_tree(const std::string& root, const WalkVisitor& visitor, const WalkOptions& options) {
  Walker w(visitor, options);
  return w.run(root);
}

}  // namespace imashim::label
