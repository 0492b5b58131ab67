#include "imashim/tpm/periodic.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "imashim/formats/measurement_log.hpp"
#include "imashim/os/fd.hpp"

namespace imashim::tpm {
namespace fs = std::filesystem;

namespace {

constexpr const char* kProcessName = "ima-anchor";
volatile sig_atomic_t g_stop = 0;
void on_term(int) { g_stop = 1; }

os::UniqueFd open_pidfd(pid_t pid) {
  if (pid <= 0) return {};
  return os::UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

// True when the process behind `pidfd` exited (or waits `ms` otherwise).
bool exited_within(const os::UniqueFd& pidfd, std::chrono::milliseconds ms) {
  if (!pidfd) {
    std::this_thread::sleep_for(ms);
    return false;
  }
  struct pollfd p {pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(ms.count())) > 0;
}

Result<Bytes> read_from(const fs::path& path, std::uint64_t offset) {
  os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return Bytes{};
    return fail_errno("open " + path.string());
  }
  Bytes out;
  std::uint8_t buf[1 << 16];
  for (;;) {
    ssize_t n = ::pread(fd.get(), buf, sizeof buf, static_cast<off_t>(offset + out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read " + path.string());
    }
    if (n == 0) return out;
    out.insert(out.end(), buf, buf + n);
  }
}

void detach_stdio() {
  ::setsid();
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
  ::close_range(3, ~0u, 0);
}

}  // namespace

Result<LogFollower> LogFollower::create(fs::path binary_log, formats::HashAlgo bank) {
  IMASHIM_TRY(formats::PcrBank b, formats::PcrBank::create(bank));
  IMASHIM_TRY(formats::TemplateHasher h, formats::TemplateHasher::create(bank));
  return LogFollower(std::move(binary_log), std::move(b), std::move(h));
}

Result<std::size_t> LogFollower::update() {
  IMASHIM_TRY(Bytes tail, read_from(path_, offset_));
  formats::LogReader reader(tail);
  std::size_t n = 0;
  for (;;) {
    auto e = reader.next();
    if (!e) {
      if (reader.truncated()) break;  // the writer is in the middle of an entry
      return std::move(e).with_context(path_.string());
    }
    if (!*e) break;
    if ((*e)->is_violation()) bank_.extend_violation((*e)->pcr);
    else IMASHIM_TRY_VOID(bank_.extend((*e)->pcr, hasher_.digest(**e)));
    offset_ += (*e)->size;
    ++entries_;
    ++n;
  }
  return n;
}

int run_periodic_anchor(const PeriodicOptions& o) {
  ::signal(SIGTERM, on_term);
  auto follower = LogFollower::create(o.log_dir / kContainerBinaryLog, o.config.log_bank);
  if (!follower) return 2;
  auto pidfd = open_pidfd(o.init_pid);
  if (o.init_pid > 0 && !pidfd && errno == ESRCH) return 0;  // the container is already gone: delete anchors it
  AnchorSchedule schedule(o.every_events, o.every_seconds);
  bool exited = false;
  while (!g_stop && !exited) {
    exited = exited_within(pidfd, o.poll);
    auto n = follower->update();
    if (!n) {
      (void)mark_unanchored(o.log_dir, n.error().message());
      continue;
    }
    schedule.entries_added(*n);
    if (!schedule.due() || g_stop) continue;
    LogState s{o.container_id, follower->virtual_pcr(), follower->entries(), AnchorEvent::periodic};
    auto r = anchor(o.config, s);
    if (r) {
      std::error_code ec;
      fs::remove(o.log_dir / kUnanchoredMarker, ec);
      schedule.anchored();
    } else {
      (void)mark_unanchored(o.log_dir, r.error().message());
      schedule.anchored();  // retry at the next due time, not in a tight loop
      schedule.entries_added(s.entries ? 1 : 0);
    }
  }
  return 0;
}

Result<pid_t> spawn_periodic_anchor(const PeriodicOptions& options) {
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork the periodic anchor process");
  if (pid > 0) return pid;
  ::prctl(PR_SET_NAME, kProcessName, 0, 0, 0);  // first: stop_periodic_anchor() looks for this name
  detach_stdio();
  ::_exit(run_periodic_anchor(options));
}

// Whether `pid` is still our anchor process (and not a later process that got its pid).
bool is_anchor_process(pid_t pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name == kProcessName;
}

Result<void> stop_periodic_anchor(pid_t pid) {
  if (pid <= 0) return {};
  auto pidfd = open_pidfd(pid);
  if (!pidfd || !is_anchor_process(pid)) return {};
  if (::kill(pid, SIGTERM) != 0) return errno == ESRCH ? Result<void>() : fail_errno("stop the periodic anchor process");
  if (!exited_within(pidfd, std::chrono::seconds(5))) {
    ::kill(pid, SIGKILL);
    (void)exited_within(pidfd, std::chrono::seconds(1));
  }
  ::waitpid(pid, nullptr, WNOHANG);
  return {};
}

}  // namespace imashim::tpm
