#include "imashim/backends/ns_user.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "log_files.hpp"

namespace imashim::backends {
namespace {

namespace fs = std::filesystem;

// fsopen/fsconfig/fsmount (Linux 5.2) by number: no mountpoint is needed.
constexpr unsigned kFsconfigCmdCreate = 6;

void report(int fd, const std::string& msg) {
  std::string_view rest = msg;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n <= 0) return;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

Result<void> activate(kernel::SysFiles& files, const fs::path& root, const std::string& policy) {
  auto ima = root / "ima";
  auto active = ima / "active";
  IMASHIM_TRY(auto fd, files.open(active, O_WRONLY));
  if (files.write(fd.get(), "1") < 0) return fail_errno("write 1 to `" + active.string() + "`");
  fd.reset();
  return kernel::load_policy(files, ima / "policy", policy);
}

Result<void> save_logs(kernel::SysFiles& files, const fs::path& root, const fs::path& log_dir) {
  for (const char* name : {"binary_runtime_measurements", "ascii_runtime_measurements"}) {
    IMASHIM_TRY(auto data, files.read(root / "ima" / name));
    IMASHIM_TRY_VOID(detail::write_log_file(log_dir / name, data));
  }
  return {};
}

// The keeper: never returns.
[[noreturn]] void keeper(const NsUserOptions& o, const AttachRequest& req, int report_fd) {
  ::prctl(PR_SET_NAME, kNsUserKeeperName);
  ::setsid();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  auto root = o.enter_and_mount ? o.enter_and_mount(req.init_pid)
                                : enter_namespaces_and_mount_securityfs(o.proc, req.init_pid);
  Result<void> ok = root ? activate(*o.files, *root, req.policy_text) : Result<void>(fail(root.error()));
  if (!ok) {
    report(report_fd, "error " + std::to_string(ok.error().sys_errno()) + " " + ok.error().message());
    ::_exit(1);
  }
  report(report_fd, "ok");
  ::close(report_fd);
  int sig = 0;
  sigwait(&set, &sig);
  ::_exit(save_logs(*o.files, *root, req.log_dir) ? 0 : 1);
}

bool is_keeper(const fs::path& proc, pid_t pid) {
  std::ifstream comm(proc / std::to_string(pid) / "comm");
  std::string name;
  return comm && std::getline(comm, name) && name == kNsUserKeeperName;
}

Result<std::string> user_namespace_id(const fs::path& proc, pid_t pid) {
  std::error_code ec;
  auto target = fs::read_symlink(proc / std::to_string(pid) / "ns" / "user", ec).string();
  if (ec) return fail("read the user namespace of pid " + std::to_string(pid) + ": " + ec.message(), ec.value());
  auto open = target.find('['), close = target.find(']');
  if (open == std::string::npos || close == std::string::npos || close <= open + 1)
    return fail("user namespace link of pid " + std::to_string(pid) + " is `" + target + "`");
  return target.substr(open + 1, close - open - 1);
}

Result<std::string> read_report(int fd) {
  std::string msg;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<std::size_t>(n));
  }
  return msg;
}

}  // namespace

NsUserBackend::NsUserBackend(NsUserOptions options) : o_(std::move(options)) {}

Capabilities NsUserBackend::capabilities() const {
  // The posted series accepts only audit rules in a non-init namespace's policy:
  // the kernel judges the policy at attach; enforcement is not promised here.
  return {.per_container_policy = true, .per_container_log = true, .enforce = false};
}

Result<fs::path> enter_namespaces_and_mount_securityfs(const fs::path& proc, pid_t pid) {
  auto ns = proc / std::to_string(pid) / "ns";
  for (auto [name, flag] : {std::pair{"user", CLONE_NEWUSER}, std::pair{"mnt", CLONE_NEWNS}}) {
    os::UniqueFd fd(::open((ns / name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open `" + (ns / name).string() + "`");
    if (::setns(fd.get(), flag) != 0) return fail_errno("setns into `" + (ns / name).string() + "`");
  }
  os::UniqueFd ctx(static_cast<int>(::syscall(SYS_fsopen, "securityfs", 0)));
  if (!ctx) return fail_errno("fsopen securityfs in the container's user namespace");
  if (::syscall(SYS_fsconfig, ctx.get(), kFsconfigCmdCreate, nullptr, nullptr, 0) != 0)
    return fail_errno("create a securityfs in the container's user namespace");
  int mnt = static_cast<int>(::syscall(SYS_fsmount, ctx.get(), 0, 0));
  if (mnt < 0) return fail_errno("fsmount securityfs");
  return fs::path("/proc/self/fd") / std::to_string(mnt);
}

Result<Attachment> NsUserBackend::attach(const AttachRequest& request) {
  IMASHIM_TRY(auto nsid, user_namespace_id(o_.proc, request.init_pid));
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("ns-user: pipe");
  os::UniqueFd rd(fds[0]), wr(fds[1]);
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("ns-user: fork the keeper");
  if (pid == 0) {
    rd.reset();
    keeper(o_, request, wr.release());
  }
  wr.reset();
  IMASHIM_TRY(auto msg, read_report(rd.get()));
  if (msg != "ok") {
    ::waitpid(pid, nullptr, 0);
    int err = 0;
    std::string text = msg.empty() ? "the keeper exited without a report" : msg;
    if (msg.starts_with("error ")) {
      auto sp = msg.find(' ', 6);
      err = std::atoi(msg.substr(6, sp - 6).c_str());
      text = sp == std::string::npos ? "" : msg.substr(sp + 1);
    }
    return fail("ns-user attach to user namespace " + nsid + ": " + text, err);
  }
  Attachment a;
  a.kind = Kind::ns_user;
  a.nsid = nsid;
  a.monitor_pid = pid;
  a.extra = {{"keeper", kNsUserKeeperName}};
  return a;
}

Result<void> NsUserBackend::detach(const Attachment& attachment, const AttachRequest& request) {
  pid_t pid = attachment.monitor_pid;
  auto have_logs = [&] { return fs::exists(request.log_dir / "binary_runtime_measurements"); };
  if (pid > 0 && is_keeper(o_.proc, pid)) {
    if (::kill(pid, SIGTERM) != 0 && errno != ESRCH) return fail_errno("ns-user: signal keeper " + std::to_string(pid));
    for (int waited = 0; is_keeper(o_.proc, pid); waited += 10) {
      ::waitpid(pid, nullptr, WNOHANG);  // reaps it when we are its parent
      if (waited >= o_.stop_timeout_ms) return fail("ns-user: keeper " + std::to_string(pid) + " did not stop");
      kernel::sleep_ms(10);
    }
  }
  if (!have_logs())
    return fail("ns-user detach: no namespace log in `" + request.log_dir.string() +
                "` (the keeper died before saving it)");
  return {};
}

}  // namespace imashim::backends
