// A walk of a directory tree that is safe on hostile trees (container layers):
// every step is one path component opened relative to the parent's fd with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV) (O_NOFOLLOW and a
// mount-id check where openat2 is missing), so a symlink, a `..` or a mount point
// inside the tree, or one swapped in while the walk runs, can never lead outside it.
// Regular files are opened once and handed over with their fd: callers hash and
// label that fd, no path is resolved twice.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "imashim/os/fd.hpp"
#include "imashim/util/result.hpp"

namespace imashim::label {

enum class EntryType : std::uint8_t {
  regular, directory, symlink, fifo, socket, char_device, block_device, unknown,
};
// "regular file", "directory", "symlink", "fifo", "socket", "character device", ...
std::string_view entry_type_name(EntryType type);
EntryType entry_type_from_mode(mode_t mode);

// Metadata of an entry (from statx on the opened fd, or fstatat without following).
struct EntryStat {
  std::uint64_t dev = 0;  // makedev(major, minor)
  std::uint64_t ino = 0;
  std::uint64_t mnt_id = 0;
  std::uint64_t size = 0;
  std::uint32_t mode = 0;  // st_mode: type and permission bits
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint32_t nlink = 0;
  std::int64_t mtime_sec = 0;
  std::uint32_t mtime_nsec = 0;
};

// A regular file handed to the visitor.
struct WalkFile {
  std::string path;  // relative to the walk root, with a leading '/': "/usr/bin/ls"
  os::UniqueFd fd;   // O_RDONLY|O_NOFOLLOW|O_NOCTTY|O_NONBLOCK|O_CLOEXEC; invalid for links_to != -1
                     // and when WalkOptions::open_files is false
  EntryStat st;
  // Hard links: the index (in on_file call order, from 0) of the first path of this
  // walk that named the same inode, or -1 for the first one. Later links are not opened.
  std::int64_t link_of = -1;
};

// An entry the walk did not hand over. `skipped` entries are expected (special files,
// mount points not crossed); `failed` ones could not be read (permission, vanished...).
struct WalkIssue {
  enum class Kind : std::uint8_t { skipped, failed };
  Kind kind = Kind::failed;
  std::string path;
  EntryType type = EntryType::unknown;
  std::string reason;  // "fifo: not a regular file", "mount point: not crossed", strerror text
  int sys_errno = 0;
};

struct WalkCounts {
  std::uint64_t files = 0;      // regular files handed over, hard links included
  std::uint64_t hardlinks = 0;  // of those, later paths of an inode already seen
  std::uint64_t bytes = 0;      // sizes of the distinct inodes
  std::uint64_t dirs = 0;
  std::uint64_t symlinks = 0;   // never followed, never labelled
  std::uint64_t skipped = 0;
  std::uint64_t failed = 0;
};

struct WalkOptions {
  // false: regular files are not opened (counting, listing); WalkFile::fd stays invalid.
  bool open_files = true;
  // Test hook: called with the entry's path just before it is opened, so a test can
  // swap a symlink in at the worst moment.
  std::function<void(const std::string& path)> before_open;
};

struct WalkVisitor {
  std::function<void(WalkFile&&)> on_file;           // regular files, in walk order
  std::function<void(WalkIssue&&)> on_issue;         // optional
};

// Walks `root` (a directory; the root itself may be reached through symlinks, the walk
// below it never is). Returns counts; an error only when the root cannot be opened.
Result<WalkCounts> walk_tree(const std::string& root, const WalkVisitor& visitor,
                             const WalkOptions& options = {});

// Opens one path component below `dirfd` the safe way (the primitive of walk_tree).
// `flags` as for openat (O_NOFOLLOW is implied). Fails with ELOOP on symlinks and
// EXDEV on mount points.
Result<os::UniqueFd> open_beneath(int dirfd, const char* name, int flags);

// statx on an open fd.
Result<EntryStat> stat_fd(int fd);

}  // namespace imashim::label
