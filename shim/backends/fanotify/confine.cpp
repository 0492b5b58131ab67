// Least privilege for the monitor after setup: only the capabilities it still
// needs, and a seccomp allow-list of the system calls its event loop makes.
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "monitor_internal.hpp"

namespace imashim::backends::fanotify {
namespace {

// What the event loop, the workers, OpenSSL, glibc's allocator and the log
// appender call once setup is done. Anything else fails with EPERM (the
// monitor keeps answering; an answer it cannot give follows the mode).
constexpr std::string_view kAllowed[] = {
    "read", "write", "pread64", "pwrite64", "readv", "writev", "lseek", "close", "fstat", "newfstatat",
    "statx", "fstatfs", "statfs", "fgetxattr", "fsetxattr", "openat", "readlink", "readlinkat", "fanotify_mark",
    "poll", "ppoll", "futex", "mmap", "munmap", "mprotect", "mremap", "brk", "madvise", "rt_sigreturn",
    "rt_sigprocmask", "rt_sigaction", "clock_gettime", "clock_nanosleep", "nanosleep", "gettid", "getpid",
    "getppid", "sched_yield", "exit", "exit_group", "fcntl", "fsync", "fdatasync", "rename", "renameat",
    "renameat2", "unlink", "unlinkat", "ftruncate", "getrandom", "restart_syscall", "sendto", "recvfrom",
    "socket", "bind", "getsockname", "getdents64", "dup", "set_robust_list", "rseq", "timerfd_settime",
    "getuid", "geteuid", "getgid", "getegid", "mkdir", "mkdirat", "fchmod", "sysinfo", "uname", "access",
    "faccessat", "faccessat2", "prctl", "tgkill", "getcwd",
};

}  // namespace

Result<void> drop_capabilities(const std::vector<int>& keep) {
  auto caps = std::unique_ptr<std::remove_pointer_t<cap_t>, decltype(&cap_free)>(cap_init(), cap_free);
  if (!caps) return fail_errno("cap_init");
  std::vector<cap_value_t> values(keep.begin(), keep.end());
  if (!values.empty()) {
    int n = static_cast<int>(values.size());
    if (cap_set_flag(caps.get(), CAP_PERMITTED, n, values.data(), CAP_SET) != 0 ||
        cap_set_flag(caps.get(), CAP_EFFECTIVE, n, values.data(), CAP_SET) != 0)
      return fail_errno("cap_set_flag");
  }
  for (cap_value_t c = 0; c <= CAP_LAST_CAP; ++c)
    if (std::find(values.begin(), values.end(), c) == values.end() && cap_get_bound(c) == 1)
      cap_drop_bound(c);
  if (cap_set_proc(caps.get()) != 0) return fail_errno("cap_set_proc");
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  return {};
}

Result<void> confine_monitor() {
  if (const char* off = std::getenv("IMASHIM_MONITOR_NO_SECCOMP"); off && *off == '1') return {};
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (!ctx) return fail("seccomp_init failed");
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  for (auto name : kAllowed) {
    std::string n(name);
    int nr = seccomp_syscall_resolve_name(n.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0) {
      seccomp_release(ctx);
      return fail("seccomp: cannot allow " + n);
    }
  }
  int rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) return fail("seccomp_load", -rc);
  return {};
}

}  // namespace imashim::backends::fanotify
