#include "imashim/runtime/runc.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "imashim/os/fd.hpp"
#include "imashim/runtime/front.hpp"

extern char** environ;

namespace imashim::runtime {
namespace {

namespace fs = std::filesystem;

bool same_file(const fs::path& a, const fs::path& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool is_executable_file(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

std::vector<char*> c_argv(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

std::string rfc3339_now() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm {};
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, ts.tv_nsec);
}

// In the child, before exec: systemd socket activation passes fds to the
// process whose pid is LISTEN_PID; runc checks it against its own pid.
void fix_listen_pid(pid_t parent) {
  const char* lp = std::getenv("LISTEN_PID");
  if (lp && std::atoi(lp) == parent) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%d", static_cast<int>(::getpid()));
    ::setenv("LISTEN_PID", buf, 1);
  }
}

int shell_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

Result<int> wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return fail_errno("waitpid runc");
  return shell_status(status);
}

std::string drain(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

}  // namespace

Result<fs::path> find_real_runc_in(const fs::path& configured, std::string_view path_env, const fs::path& self_exe) {
  return find_real_runc_in(configured, path_env, std::vector<fs::path>{self_exe});
}

Result<fs::path> find_real_runc_in(const fs::path& configured, std::string_view path_env,
                                   const std::vector<fs::path>& selves) {
  auto is_self = [&](const fs::path& p) {
    for (const auto& self : selves)
      if (same_file(p, self)) return true;
    return false;
  };
  if (!configured.empty()) {
    if (!is_executable_file(configured))
      return fail(fmt::format("runc_path {}: not an executable file", configured.string()));
    if (is_self(configured))
      return fail(fmt::format("runc_path {}: is ima-runc itself, not runc", configured.string()));
    return configured;
  }
  std::string_view rest = path_env;
  while (true) {
    auto colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    fs::path candidate = fs::path(dir.empty() ? "." : std::string(dir)) / "runc";
    if (is_executable_file(candidate) && !is_self(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return fail(fmt::format("runc not found: no executable `runc` other than ima-runc in PATH ({}); set runc_path "
                          "in the node config",
                          path_env));
}

Result<fs::path> find_real_runc(const NodeConfig& config) {
  const char* path = std::getenv("PATH");
  std::vector<fs::path> selves{"/proc/self/exe"};
  // Started by ima-runc's front end: that executable is not runc either.
  if (const char* front = std::getenv(kFrontEnv); front && *front) selves.emplace_back(front);
  return find_real_runc_in(config.runc_path, path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           selves);
}

Error exec_runc(const fs::path& runc, const std::vector<std::string>& argv) {
  std::vector<std::string> args = argv;
  if (args.empty()) args.emplace_back();
  args[0] = runc.string();
  auto cargs = c_argv(args);
  ::execv(runc.c_str(), cargs.data());
  return Error::from_errno(fmt::format("exec {}", runc.string()));
}

Result<int> run_runc(const fs::path& runc, const std::vector<std::string>& args) {
  IMASHIM_TRY(pid_t pid, spawn_runc(runc, args));
  return wait_child(pid);
}

Result<int> wait_runc(pid_t pid) { return wait_child(pid); }

std::optional<pid_t> take_started_runc() {
  const char* v = std::getenv(kRuncStartedEnv);
  std::optional<pid_t> pid;
  if (v && std::getenv(kFrontEnv)) {
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    siginfo_t info{};
    // Only a child of ours can be waited for: WNOWAIT looks without reaping.
    if (end != v && *end == '\0' && n > 0 && n <= INT32_MAX &&
        ::waitid(P_PID, static_cast<id_t>(n), &info, WEXITED | WNOHANG | WNOWAIT) == 0)
      pid = static_cast<pid_t>(n);
  }
  ::unsetenv(kRuncStartedEnv);
  return pid;
}

Result<pid_t> spawn_runc(const fs::path& runc, const std::vector<std::string>& args) {
  std::vector<std::string> full{runc.string()};
  full.insert(full.end(), args.begin(), args.end());
  auto cargs = c_argv(full);
  pid_t parent = ::getpid();
  // posix_spawn (vfork and exec) unless socket activation needs the child's
  // own pid in LISTEN_PID: a fork copies the page tables of this process and
  // its libraries first (about 1 ms measured, on create's and delete's path).
  const char* lp = std::getenv("LISTEN_PID");
  if (!lp || std::atoi(lp) != parent) {
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, runc.c_str(), nullptr, nullptr, cargs.data(), environ);
    if (rc != 0) return fail(fmt::format("exec {}: {}", runc.string(), std::strerror(rc)));
    return pid;
  }
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    fix_listen_pid(parent);
    ::execv(runc.c_str(), cargs.data());
    std::fprintf(stderr, "ima-runc: exec %s: %s\n", runc.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}

Result<Captured> run_runc_captured(const fs::path& runc, const std::vector<std::string>& args) {
  std::vector<std::string> full{runc.string()};
  full.insert(full.end(), args.begin(), args.end());
  auto cargs = c_argv(full);
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return fail_errno("pipe");
  os::UniqueFd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return fail_errno("pipe");
  os::UniqueFd err_r(err[0]), err_w(err[1]);
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_w.get(), 1);
    ::dup2(err_w.get(), 2);
    ::execv(runc.c_str(), cargs.data());
    ::_exit(127);
  }
  out_w.reset();
  err_w.reset();
  Captured c;
  // runc's outputs here are small (state, list): read stdout then stderr.
  c.out = drain(out_r.get());
  c.err = drain(err_r.get());
  IMASHIM_TRY(c.status, wait_child(pid));
  return c;
}

std::string runc_log_line(std::string_view format, std::string_view level, std::string_view message,
                          std::string_view time_rfc3339) {
  if (format == "json")
    return nlohmann::json{{"level", level}, {"msg", message}, {"time", time_rfc3339}}.dump();
  return fmt::format("time=\"{}\" level={} msg={}", time_rfc3339, level, nlohmann::json(message).dump());
}

void report_error(const RuncCommand& cmd, std::string_view message) {
  std::string msg = fmt::format("ima-runc: {}", message);
  std::fprintf(stderr, "%s\n", msg.c_str());
  auto log = cmd.global("log");
  if (!log || log->empty() || *log == "/dev/stderr") return;
  std::string line = runc_log_line(cmd.global("log-format").value_or("text"), "error", msg, rfc3339_now()) + "\n";
  os::UniqueFd fd(::open(log->c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (fd) [[maybe_unused]] auto n = ::write(fd.get(), line.data(), line.size());
}

}  // namespace imashim::runtime
