// Least privilege for the monitor after setup: only the capabilities it still
// needs, and a seccomp allow-list of the system calls its event loop makes.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include <fmt/format.h>

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

namespace {

// The allow-list as the kernel takes it (libseccomp's export: its own
// architecture check first, then the rules).
std::vector<sock_filter>& program() {
  static std::vector<sock_filter> p;
  return p;
}

bool disabled() {
  const char* off = std::getenv("IMASHIM_MONITOR_NO_SECCOMP");
  return off && *off == '1';
}

}  // namespace

Result<void> prepare_confinement() {
  if (disabled() || !program().empty()) return {};
  auto ctx = std::unique_ptr<void, decltype(&seccomp_release)>(seccomp_init(SCMP_ACT_ERRNO(EPERM)), seccomp_release);
  if (!ctx) return fail("seccomp_init failed");
  for (auto name : kAllowed) {
    std::string n(name);
    int nr = seccomp_syscall_resolve_name(n.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0) != 0) return fail("seccomp: cannot allow " + n);
  }
  os::UniqueFd mem(static_cast<int>(::memfd_create("imashim-seccomp", MFD_CLOEXEC)));
  if (!mem) return fail_errno("memfd_create");
  if (int rc = seccomp_export_bpf(ctx.get(), mem.get()); rc != 0) return fail("seccomp_export_bpf", -rc);
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) return fail("seccomp: bad exported program");
  std::vector<sock_filter> p(static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (::pread(mem.get(), p.data(), static_cast<std::size_t>(size), 0) != size) return fail_errno("seccomp: read program");
  program() = std::move(p);
  return {};
}

Result<void> confine_monitor() {
  if (disabled()) return {};
  IMASHIM_TRY_VOID(prepare_confinement());
  // Loading a filter without CAP_SYS_ADMIN needs no_new_privs (drop_capabilities set it already).
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  sock_fprog prog{static_cast<unsigned short>(program().size()), program().data()};
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
  if (rc < 0) return fail_errno("seccomp");
  if (rc > 0) return fail(fmt::format("seccomp: thread {} could not take the filter", rc));
  return {};
}

}  // namespace imashim::backends::fanotify
