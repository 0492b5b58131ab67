// `ima-runc run` in the foreground: the container's init is our child (we are
// its subreaper), signals are forwarded to it, and with a terminal the pty
// master runc hands over is proxied to our own stdio, as `runc run` does.
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "imashim/os/fd.hpp"
#include "imashim/runtime/ima_runc.hpp"

namespace imashim::runtime {
namespace {

std::atomic<pid_t> g_init_pid{-1};
std::atomic<int> g_console{-1};

void forward_signal(int sig) {
  pid_t pid = g_init_pid.load();
  if (sig == SIGWINCH) {
    struct winsize ws {};
    int master = g_console.load();
    if (master >= 0 && ::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
    return;
  }
  if (pid > 0) ::kill(pid, sig);
}

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

void install_forwarding(pid_t init_pid) {
  g_init_pid = init_pid;
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  ::sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: waitpid sees EINTR and loops
  for (int sig : kForwarded) ::sigaction(sig, &sa, nullptr);
}

int shell_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Reaps children until the init exits; returns its exit code.
int reap_until(pid_t init_pid) {
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) return 1;  // not our child: should not happen with the subreaper set
    if (pid == init_pid) return shell_status(status);
  }
}

void copy_all(int from, int to) {
  char buf[8192];
  while (true) {
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(to, buf + off, static_cast<std::size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;
      off += w;
    }
  }
}

class RawTerminal {
 public:
  RawTerminal() {
    if (::isatty(0) && ::tcgetattr(0, &saved_) == 0) {
      struct termios raw = saved_;
      ::cfmakeraw(&raw);
      active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    }
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  struct termios saved_ {};
  bool active_ = false;
};

}  // namespace

int wait_foreground(pid_t init_pid, const ForegroundOptions& options) {
  install_forwarding(init_pid);
  if (!options.proxy_console) return reap_until(init_pid);
  os::UniqueFd master(options.console_master);
  g_console = master.get();
  forward_signal(SIGWINCH);
  RawTerminal raw;
  // stdin → pty in a detached thread (a read on our stdin cannot be
  // interrupted cleanly); pty → stdout here until the pty closes.
  std::thread([fd = master.get()] { copy_all(0, fd); }).detach();
  std::thread out([fd = master.get()] { copy_all(fd, 1); });
  int code = reap_until(init_pid);
  out.join();
  g_console = -1;
  return code;
}

Result<ConsoleSocket> ConsoleSocket::listen() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = fmt::format("{}/ima-runc-console.XXXXXX", base && *base ? base : "/tmp");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return fail_errno(fmt::format("mkdtemp {}", pattern));
  std::string dir = buf.data();
  std::string path = dir + "/console.sock";
  os::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("console socket");
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return fail(fmt::format("console socket path too long: {}", path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd.get(), 1) != 0) {
    ::rmdir(dir.c_str());
    return fail_errno(fmt::format("console socket {}", path));
  }
  return ConsoleSocket(fd.release(), dir, path);
}

ConsoleSocket::ConsoleSocket(ConsoleSocket&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), dir_(std::move(o.dir_)), path_(std::move(o.path_)) {}

ConsoleSocket::~ConsoleSocket() {
  if (fd_ >= 0) ::close(fd_);
  if (!path_.empty()) ::unlink(path_.c_str());
  if (!dir_.empty()) ::rmdir(dir_.c_str());
}

Result<int> ConsoleSocket::receive_master(pid_t runc_pid) {
  while (true) {
    struct pollfd p {fd_, POLLIN, 0};
    int n = ::poll(&p, 1, 100);
    if (n < 0 && errno != EINTR) return fail_errno("poll console socket");
    if (n > 0) break;
    // runc gone without connecting (it failed): stop waiting.
    siginfo_t info {};
    if (::waitid(P_PID, static_cast<id_t>(runc_pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0)
      return fail("runc exited before sending the console");
  }
  os::UniqueFd conn(::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return fail_errno("accept console socket");
  char data[256];
  struct iovec iov {data, sizeof data};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC) < 0) return fail_errno("receive console");
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  }
  return fail("console socket: no file descriptor received");
}

}  // namespace imashim::runtime
