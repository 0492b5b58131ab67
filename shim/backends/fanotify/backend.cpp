// The Backend: attach starts a daemonized monitor per container and waits for
// its ready handshake; detach stops it and finalizes the log.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "imashim/formats/measurement_log.hpp"
#include "monitor_internal.hpp"

extern char** environ;

namespace imashim::backends {
namespace {

using namespace fanotify;
using Clock = std::chrono::steady_clock;

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_signal(int fd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0)); }

bool wait_exit(int pidfd, std::chrono::milliseconds timeout) {
  struct pollfd p {pidfd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

// Reads one line from `fd` within `timeout`.
std::string read_line(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = Clock::now() + timeout;
  while (out.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    struct pollfd p {fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out.substr(0, out.find('\n'));
}

// Writes the monitor's config: atomically (temp file + rename) but not
// durably. The monitor reads it at once; after a crash of the node neither
// the monitor nor the container exists to need it.
Result<void> write_handoff(const std::filesystem::path& path, std::string_view text) {
  auto tmp = path;
  tmp += ".tmp";
  os::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return fail_errno("create `" + tmp.string() + "`");
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return fail_errno("write `" + tmp.string() + "`");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail_errno("rename `" + tmp.string() + "`");
  return {};
}

// The monitor in its own session with none of the caller's stdio (engines
// wait on those) and no other fd of ours. posix_spawn (vfork and exec) rather
// than a double fork of this large process: the monitor ends up where a
// double fork puts it, with the nearest subreaper or init once we exit, a
// moment after its ready report. `go_r` >= 0: a monitor started ahead of
// attach, which waits on fd 4 for the word to go and writes no log until
// then (its stderr is /dev/null until it opens its monitor.log).
Result<pid_t> spawn_monitor(const std::filesystem::path& exe, const std::filesystem::path& config, int ready_w,
                            int go_r, const std::filesystem::path& stderr_log) {
  // Above the stdio numbers, so that no dup2 below overwrites another's source.
  os::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  os::UniqueFd null(::fcntl(devnull.get(), F_DUPFD_CLOEXEC, 10));
  os::UniqueFd err;
  if (!stderr_log.empty()) err.reset(::open(stderr_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (err) err.reset(::fcntl(err.get(), F_DUPFD_CLOEXEC, 10));
  os::UniqueFd ready(::fcntl(ready_w, F_DUPFD_CLOEXEC, 10));
  os::UniqueFd go(go_r >= 0 ? ::fcntl(go_r, F_DUPFD_CLOEXEC, 10) : -1);
  if (!null || !ready || (go_r >= 0 && !go)) return fail_errno("spawn the monitor: open /dev/null");
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_adddup2(&fa, null.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, null.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err ? err.get() : null.get(), 2);
  posix_spawn_file_actions_adddup2(&fa, ready.get(), 3);
  if (go) posix_spawn_file_actions_adddup2(&fa, go.get(), 4);
  posix_spawn_file_actions_addclosefrom_np(&fa, go ? 5 : 4);
  std::string exe_s = exe.string(), config_s = config.string();
  std::vector<const char*> argv{kMonitorName, "run", "--config", config_s.c_str(), "--ready-fd", "3"};
  if (go) argv.insert(argv.end(), {"--go-fd", "4"});
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, exe_s.c_str(), &fa, &attr, const_cast<char* const*>(argv.data()), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail("spawn the monitor " + exe_s + ": " + std::strerror(rc));
  return pid;
}

// Is `pid` the monitor of this container (not a recycled pid)?
bool is_our_monitor(pid_t pid, const std::filesystem::path& config) {
  std::ifstream in(fmt::format("/proc/{}/cmdline", pid));
  std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmd.find(config.string()) != std::string::npos;
}

void kill_and_wait(pid_t pid) {
  os::UniqueFd fd(pidfd_open(pid));
  if (fd && pidfd_signal(fd.get(), SIGKILL) == 0) wait_exit(fd.get(), std::chrono::seconds(2));
}

// A monitor that never reported ready (timeout): nothing half-started stays behind.
void stop_unready_monitor(const std::filesystem::path& state, const std::filesystem::path& config) {
  pid_t pid = 0;
  std::ifstream(state / "monitor.pid") >> pid;
  if (pid <= 0 || !is_our_monitor(pid, config)) return;
  kill_and_wait(pid);
}

// A monitor started by prestart(), waiting for the word to go.
struct Prestarted {
  pid_t pid = -1;
  std::filesystem::path config;
  os::UniqueFd go_w, ready_r;
};

class FanotifyBackend : public Backend {
 public:
  explicit FanotifyBackend(FanotifyOptions o) : options_(std::move(o)) {}
  // A prestarted monitor that attach() did not take reads end of file on its
  // go socket and exits without having touched anything; it is reaped here.
  ~FanotifyBackend() override {
    if (!prestarted_) return;
    prestarted_->go_w.reset();
    ::waitpid(prestarted_->pid, nullptr, 0);
  }
  Kind kind() const override { return Kind::fanotify; }
  Capabilities capabilities() const override { return {true, true, true}; }

  // The monitor's exec, static start and OpenSSL's set-up while runc creates
  // the container (docs/runtime.md); attach() then tells it to go.
  void prestart(const AttachRequest& request) override {
    if (prestarted_) return;
    auto exe = find_monitor(options_);
    if (!exe) return;
    int ready[2], go[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return;
    os::UniqueFd ready_r(ready[0]), ready_w(ready[1]);
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0) return;
    os::UniqueFd go_r(go[0]), go_w(go[1]);
    auto config = state_dir(request) / "monitor.json";
    auto pid = spawn_monitor(*exe, config, ready_w.get(), go_r.get(), {});
    if (!pid) return;
    prestarted_ = Prestarted{*pid, config, std::move(go_w), std::move(ready_r)};
  }

  Result<Attachment> attach(const AttachRequest& request) override {
    IMASHIM_TRY_VOID(validate(request));
    std::error_code ec;
    auto state = state_dir(request);
    std::filesystem::create_directories(request.log_dir, ec);
    std::filesystem::create_directories(state, ec);
    if (ec) return fail("create `" + state.string() + "`: " + ec.message());
    MonitorConfig config = MonitorConfig::from_request(request, options_);
    config.state_dir = state;
    // Fail before spawning on what the monitor would refuse anyway.
    if (auto p = make_policy_view(config.policy_text); !p) return std::move(p).with_context("container policy");
    auto config_path = state / "monitor.json";
    std::filesystem::remove(state / kFinalizedMark, ec);  // left by an earlier monitor of this dir
    IMASHIM_TRY_VOID(write_handoff(config_path, config.to_json().dump(2)));
    os::UniqueFd ready_r;
    pid_t pid = -1;
    if (prestarted_ && prestarted_->config == config_path) {
      Prestarted p = std::move(*prestarted_);
      prestarted_.reset();
      // A socket, not a pipe: a monitor that died meanwhile costs us EPIPE, not SIGPIPE.
      if (::send(p.go_w.get(), "go\n", 3, MSG_NOSIGNAL) == 3) {
        pid = p.pid;
        ready_r = std::move(p.ready_r);
      } else {
        kill_and_wait(p.pid);
        ::waitpid(p.pid, nullptr, 0);
      }
    }
    if (!ready_r) {
      IMASHIM_TRY(auto exe, find_monitor(options_));
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe");
      ready_r.reset(fds[0]);
      os::UniqueFd ready_w(fds[1]);
      IMASHIM_TRY(pid, spawn_monitor(exe, config_path, ready_w.get(), -1,
                                     fanotify::stderr_log(request.state_dir, request.log_dir)));
    }
    std::string line = read_line(ready_r.get(), options_.ready_timeout);
    pid_t ready_pid = 0;
    int marks = 0;
    if (std::sscanf(line.c_str(), "ready %d marks=%d", &ready_pid, &marks) < 1 || ready_pid <= 0) {
      std::string why = line.rfind("error ", 0) == 0 ? line.substr(6)
                        : line.empty() ? "no ready report within the timeout" : line;
      if (is_our_monitor(pid, config_path)) kill_and_wait(pid);
      stop_unready_monitor(state, config_path);
      return fail("fanotify monitor for container " + request.container_id + ": " + why);
    }
    Attachment a;
    a.kind = Kind::fanotify;
    a.monitor_pid = ready_pid;
    a.extra = {{"log_dir", request.log_dir.string()}, {"config", config_path.string()}, {"marks", marks}};
    return a;
  }

  Result<void> detach(const Attachment& a, const AttachRequest& request) override {
    std::filesystem::path log_dir = request.log_dir;
    if (log_dir.empty() && a.extra.is_object()) log_dir = a.extra.value("log_dir", std::string());
    std::filesystem::path config = a.extra.is_object() ? a.extra.value("config", std::string()) : std::string();
    if (config.empty()) config = state_dir(request) / "monitor.json";
    if (a.monitor_pid > 0) {
      os::UniqueFd pidfd(pidfd_open(a.monitor_pid));
      if (pidfd && is_our_monitor(a.monitor_pid, config)) {
        pidfd_signal(pidfd.get(), SIGTERM);
        if (!wait_exit(pidfd.get(), std::chrono::seconds(5))) {
          pidfd_signal(pidfd.get(), SIGKILL);
          wait_exit(pidfd.get(), std::chrono::seconds(2));
        }
      }
    }
    if (!log_dir.empty()) fanotify::keep_stderr_log(state_dir(request, config), log_dir);  // if it died: why
    // The monitor finished its log itself: nothing to repair, nothing to redo.
    std::error_code ec;
    if (std::filesystem::remove(state_dir(request, config) / kFinalizedMark, ec)) return {};
    if (!log_dir.empty() && std::filesystem::exists(log_dir / "policy"))
      IMASHIM_TRY_VOID(sync_file(log_dir / "policy"));
    if (log_dir.empty() || !std::filesystem::exists(log_dir / "binary_runtime_measurements")) return {};
    {  // a monitor killed mid-write leaves a torn tail: opening the appender repairs it
      IMASHIM_TRY(auto app, formats::MeasurementLogAppender::open(log_dir / "binary_runtime_measurements",
                                                                   log_dir / "ascii_runtime_measurements"));
      IMASHIM_TRY_VOID(app.sync());
    }
    return finalize_log(log_dir);
  }

 private:
  static std::filesystem::path state_dir(const AttachRequest& r) {
    return r.state_dir.empty() ? r.log_dir : r.state_dir;
  }
  // At detach: the monitor's state dir is the one that holds its config.
  static std::filesystem::path state_dir(const AttachRequest& r, const std::filesystem::path& config) {
    return config.has_parent_path() ? config.parent_path() : state_dir(r);
  }
  static Result<void> validate(const AttachRequest& r) {
    if (r.container_id.empty()) return fail("attach: empty container id");
    if (r.init_pid <= 0) return fail("attach " + r.container_id + ": no init pid");
    if (r.mode == Mode::off) return fail("attach " + r.container_id + ": mode off needs no backend");
    if (r.log_dir.empty() || !r.log_dir.is_absolute())
      return fail("attach " + r.container_id + ": log_dir `" + r.log_dir.string() + "` is not an absolute path");
    return {};
  }
  FanotifyOptions options_;
  std::optional<Prestarted> prestarted_;
};

}  // namespace

std::unique_ptr<Backend> make_fanotify_backend(FanotifyOptions options) {
  return std::make_unique<FanotifyBackend>(std::move(options));
}

namespace fanotify {

Result<std::filesystem::path> find_monitor(const FanotifyOptions& options) {
  std::vector<std::filesystem::path> candidates;
  if (!options.monitor_path.empty()) candidates.push_back(options.monitor_path);
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(self.parent_path() / kMonitorName);
  if (const char* env = std::getenv("IMASHIM_MONITOR")) candidates.emplace_back(env);
  for (const auto& c : candidates)
    if (::access(c.c_str(), X_OK) == 0) return c;
  return fail(std::string("fanotify backend: no executable ") + kMonitorName + " next to " + self.string() +
              " (install it there or set IMASHIM_MONITOR)");
}

}  // namespace fanotify
}  // namespace imashim::backends
