// The fail-closed guardian: a small child of the monitor that holds pidfds of
// the monitor and of the container's init. If the monitor dies without saying
// it stops on purpose, then in enforce mode the container is killed (SIGKILL
// to init, which takes its PID namespace with it, and to every process left in
// its cgroup); in measure and log modes the container runs on and the gap is
// recorded as a violation entry in its log.
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "imashim/formats/measurement_log.hpp"
#include "imashim/formats/pcr.hpp"
#include "monitor_internal.hpp"

namespace imashim::backends::fanotify {
namespace {

int pidfd_signal(int pidfd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

// The container's cgroup directories (one per v1 hierarchy and the v2 one),
// read while init still lives.
std::vector<std::string> cgroup_dirs(pid_t pid) {
  std::vector<std::string> out;
  std::ifstream in(fmt::format("/proc/{}/cgroup", pid));
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrl = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (path == "/") continue;  // never the root cgroup
    if (ctrl.empty()) {
      out.push_back("/sys/fs/cgroup/unified" + path);
      out.push_back("/sys/fs/cgroup" + path);
    } else if (ctrl == "pids" || ctrl == "freezer" || ctrl == "memory") {
      out.push_back("/sys/fs/cgroup/" + ctrl + path);
    }
  }
  return out;
}

void kill_cgroups(const std::vector<std::string>& dirs) {
  for (int round = 0; round < 3; ++round)
    for (const auto& d : dirs) {
      std::ifstream procs(d + "/cgroup.procs");
      pid_t p;
      while (procs >> p)
        if (p > 1 && p != ::getpid()) ::kill(p, SIGKILL);
    }
}

// Closes every fd but `keep` (above stderr): above all the fanotify fd, which
// must die with the monitor so the kernel answers its pending events.
void close_all_but(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  for (int fd : keep) {
    if (static_cast<unsigned>(fd) > from) ::syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0);
    from = static_cast<unsigned>(fd) + 1;
  }
  ::syscall(SYS_close_range, from, ~0U, 0);
}

[[noreturn]] void guard(const MonitorConfig& config, int monitor_pidfd, int init_pidfd, int clean_fd) {
  close_all_but({monitor_pidfd, init_pidfd, clean_fd});
  ::prctl(PR_SET_NAME, "ima-guardian", 0, 0, 0);
  ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  auto cgroups = cgroup_dirs(config.init_pid);
  (void)drop_capabilities({CAP_KILL, CAP_DAC_OVERRIDE});
  for (;;) {
    struct pollfd fds[2] = {{monitor_pidfd, POLLIN, 0}, {init_pidfd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      ::_exit(1);
    }
    if (fds[1].revents & POLLIN) ::_exit(0);  // the container is gone: nothing to guard
    if (!(fds[0].revents & POLLIN)) continue;
    char c = 0;
    if (::read(clean_fd, &c, 1) == 1) ::_exit(0);  // a requested stop
    if (config.mode == Mode::enforce) {
      pidfd_signal(init_pidfd, SIGKILL);
      kill_cgroups(cgroups);
      (void)record_gap(config, "monitor-died:container-killed");
    } else {
      (void)record_gap(config, "monitor-died:unmonitored");
    }
    ::_exit(0);
  }
}

}  // namespace

Result<pid_t> start_guardian(const MonitorConfig& config, int monitor_pidfd, int init_pidfd, int clean_fd) {
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork the guardian");
  if (pid == 0) guard(config, monitor_pidfd, init_pidfd, clean_fd);
  return pid;
}

Result<void> record_gap(const MonitorConfig& config, const std::string& name) {
  {
    IMASHIM_TRY(auto app, formats::MeasurementLogAppender::open(config.log_dir / "binary_runtime_measurements",
                                                                 config.log_dir / "ascii_runtime_measurements"));
    IMASHIM_TRY(auto desc, formats::resolve_template(config.template_name));
    formats::Measurement m;
    m.path = name;
    m.violation = true;
    IMASHIM_TRY_VOID(app.append(desc, m));
    IMASHIM_TRY_VOID(app.sync());
  }
  os::UniqueFd ev(::open((config.log_dir / "events.jsonl").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (ev)
    append_jsonl(ev.get(), {{"container", config.container_id},
                            {"event", "violation"},
                            {"action", name},
                            {"mode", mode_name(config.mode)},
                            {"decision", config.mode == Mode::enforce ? "kill" : "allow"},
                            {"cause", "monitor-died"}});
  return finalize_log(config.log_dir);
}

}  // namespace imashim::backends::fanotify
