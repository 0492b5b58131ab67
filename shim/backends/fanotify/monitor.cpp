// The monitor process: one per container. Marks the container's mounts,
// answers permission events from a pool of workers, exits when the
// container's init does.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <map>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "monitor_internal.hpp"

namespace imashim::backends::fanotify {
namespace {

constexpr std::uint64_t kPermMask = FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM;
constexpr std::uint64_t kMarkMask = kPermMask | FAN_CLOSE_WRITE;
constexpr std::size_t kQueueDepth = 256;  // per worker; a full queue stops the reader (back-pressure)
constexpr off_t kInlineMaxSize = 1 << 20;  // hashed by the reader itself when its shard is idle
constexpr unsigned kExitSyncThreads = 4;  // the log's 2 fdatasyncs and 3 pcrs files: 4 threads and ours
// Pseudo filesystems of a container that hold no files to measure.
constexpr std::string_view kUnmarkedFsTypes[] = {"proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue"};

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// One fanotify event waiting for a worker.
struct Job {
  int fd = -1;
  pid_t pid = 0;
  std::uint64_t mask = 0;
  struct stat st {};  // of the event fd, taken once by the reader
};

class Queue {
 public:
  void push(Job j) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return jobs_.size() < kQueueDepth || closed_; });
    jobs_.push_back(j);
    not_empty_.notify_one();
  }
  bool pop(Job& j) {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return !jobs_.empty() || closed_; });
    if (jobs_.empty()) return false;
    j = jobs_.front();
    jobs_.pop_front();
    busy_ = true;
    not_full_.notify_one();
    return true;
  }
  void done() {
    std::lock_guard lock(mu_);
    busy_ = false;
  }
  bool idle() {
    std::lock_guard lock(mu_);
    return jobs_.empty() && !busy_;
  }
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Job> jobs_;
  bool closed_ = false;
  bool busy_ = false;
};

class Monitor {
 public:
  Monitor(const MonitorConfig& config, std::unique_ptr<Engine> engine, int fan, bool audit)
      : config_(config), engine_(std::move(engine)), fan_(fan), kernel_audit_(audit),
        want_ids_(engine_->needs_subject_ids() || std::getenv("IMASHIM_MONITOR_SUBJECT_IDS")) {}

  // Workers are sharded by inode: events of one file stay in order (a
  // writer's close before its next open), other files go on in parallel.
  void start(unsigned workers) {
    queues_ = std::vector<Queue>(std::max(1u, workers));
    for (std::size_t i = 0; i < queues_.size(); ++i) threads_.emplace_back([this, i] { work(queues_[i]); });
  }
  void stop() {
    for (auto& q : queues_) q.close();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  // Reads what the kernel has queued; false when the queue overflowed and events were lost.
  bool drain() {
    alignas(struct fanotify_event_metadata) char buf[64 * 1024];
    for (;;) {
      ssize_t n = ::read(fan_, buf, sizeof buf);
      if (n <= 0) return true;
      auto* md = reinterpret_cast<struct fanotify_event_metadata*>(buf);
      for (; FAN_EVENT_OK(md, n); md = FAN_EVENT_NEXT(md, n)) {
        if (md->vers != FANOTIFY_METADATA_VERSION) continue;
        if (md->mask & FAN_Q_OVERFLOW) {
          engine_->violation("fanotify-overflow");
          continue;
        }
        if (md->fd < 0) continue;
        Job j{md->fd, md->pid, md->mask, {}};
        if (::fstat(md->fd, &j.st) != 0) j.st.st_size = -1;  // describe_event reports it
        Queue& q = queues_[static_cast<std::uint64_t>(j.st.st_ino) % queues_.size()];
        // Small files, and large ones already hashed, are answered right here
        // when nothing of their shard is pending (no thread hand-off); large
        // ones to hash go to the pool so that they do not hold up other files.
        if ((j.st.st_size <= kInlineMaxSize || engine_->hashed(version_of(j.st))) && q.idle()) {
          handle(j);
          ::close(j.fd);
        } else {
          q.push(j);
        }
      }
    }
  }
  Engine& engine() { return *engine_; }

 private:
  void work(Queue& q) {
    Job j;
    while (q.pop(j)) {
      handle(j);
      ::close(j.fd);
      q.done();
    }
  }

  // Whether the event of `pid` on inode `ino` is the open of an exec it just made.
  bool follows_exec(const Job& j, EventKind kind) {
    std::lock_guard lock(exec_mu_);
    if (kind == EventKind::exec) {
      last_exec_[j.pid] = j.st.st_ino;
      return false;
    }
    auto it = last_exec_.find(j.pid);
    if (it == last_exec_.end() || it->second != j.st.st_ino) return false;
    last_exec_.erase(it);
    return true;
  }

  void handle(const Job& j) {
    FileEvent e;
    e.kind = (j.mask & FAN_OPEN_EXEC_PERM) ? EventKind::exec
             : (j.mask & FAN_OPEN_PERM)    ? EventKind::open
                                           : EventKind::close_write;
    Result<void> described = fail("fstat of the event fd failed");
    if (j.st.st_size >= 0) described = describe_event(j.fd, j.pid, j.st, e, want_ids_);
    if (e.kind != EventKind::close_write) e.follows_exec = follows_exec(j, e.kind);
    EventFdContent content(j.fd, j.st.st_size);
    if (!config_.record_events.empty()) record_event(e, content);
    if (e.kind == EventKind::close_write) {
      if (described) engine_->modified(e, content);
      return;
    }
    Verdict v = described ? engine_->decide(e, content) : engine_->on_error(e, described.error().message());
    respond(j, v);
  }

  void respond(const Job& j, const Verdict& v) {
    struct fanotify_response r {};
    r.fd = j.fd;
    r.response = v.allow ? FAN_ALLOW : FAN_DENY;
    if (kernel_audit_ && !v.cause.empty()) r.response |= FAN_AUDIT;
    if (::write(fan_, &r, sizeof r) != sizeof r && kernel_audit_) {
      r.response &= ~FAN_AUDIT;
      (void)!::write(fan_, &r, sizeof r);
    }
    // The kernel-level cache: no more events for this inode until it changes
    // (no FAN_MARK_IGNORED_SURV_MODIFY: a write clears the ignore mask).
    if (v.allow && v.ignorable && config_.ignore_marks) {
      std::uint64_t bit = (j.mask & FAN_OPEN_EXEC_PERM) ? FAN_OPEN_EXEC_PERM : FAN_OPEN_PERM;
      ::fanotify_mark(fan_, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, bit, j.fd, nullptr);
    }
  }

  // A replayable record: metadata, label, digest and first bytes (not the content).
  void record_event(const FileEvent& e, EventFdContent& content) {
    auto x = content.ima_xattr();
    std::map<formats::HashAlgo, Bytes> digests;
    Bytes head;
    if (e.kind != EventKind::close_write) {
      if (auto d = content.digest(config_.hash_algo)) digests[config_.hash_algo] = *d;
      if (auto h = content.head(4)) head = *h;
    }
    std::lock_guard lock(record_mu_);
    if (!record_fd_)
      record_fd_.reset(::open(config_.record_events.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    append_jsonl(record_fd_.get(), recorded_event_json(e, x ? *x : std::nullopt, digests, head));
  }

  const MonitorConfig& config_;
  std::unique_ptr<Engine> engine_;
  int fan_;
  bool kernel_audit_;
  bool want_ids_;  // read the opener's ids only when the policy looks at them
  std::vector<Queue> queues_;
  std::vector<std::thread> threads_;
  std::mutex exec_mu_;
  std::unordered_map<pid_t, std::uint64_t> last_exec_;  // pid → inode of its exec in progress
  std::mutex record_mu_;
  os::UniqueFd record_fd_;
};

struct MountPoint {
  std::string path;  // in the container
  std::string fstype;
};

// The container's mounts, from /proc/<pid>/mountinfo (mount point is field 5,
// fs type follows the " - " separator).
std::vector<MountPoint> container_mounts(pid_t pid) {
  std::vector<MountPoint> out;
  std::ifstream in(fmt::format("/proc/{}/mountinfo", pid));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, mnt;
    f >> id >> parent >> devno >> root >> mnt;
    auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    std::istringstream rest(line.substr(sep + 3));
    std::string fstype;
    rest >> fstype;
    out.push_back({mnt, fstype});
  }
  return out;
}

// Marks the container's root mount and every other mount that can hold files
// (volumes, tmpfs), resolved inside the container's root so that no symlink
// of the image leads out of it.
Result<int> mark_container(int fan, pid_t pid) {
  // A mount mark on a process that shares our mount namespace would watch the host.
  struct stat ours {}, theirs {};
  std::string ns = fmt::format("/proc/{}/ns/mnt", pid);
  if (::stat("/proc/self/ns/mnt", &ours) != 0 || ::stat(ns.c_str(), &theirs) != 0) return fail_errno("stat " + ns);
  if (ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev)
    return fail(fmt::format("process {} shares the host's mount namespace: not a container root to mark", pid));
  std::string root = fmt::format("/proc/{}/root", pid);
  if (::fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, kMarkMask, AT_FDCWD, root.c_str()) != 0)
    return fail_errno("fanotify_mark " + root);
  int marked = 1;
  os::UniqueFd rootfd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) return marked;
  for (const auto& m : container_mounts(pid)) {
    if (m.path == "/") continue;
    bool pseudo = false;
    for (auto t : kUnmarkedFsTypes) pseudo = pseudo || m.fstype == t;
    if (pseudo) continue;
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    os::UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, rootfd.get(), m.path.c_str(), &how, sizeof how)));
    if (!fd) continue;
    // fanotify_mark() ignores O_PATH descriptors given without a path (EBADF):
    // name the mount through the descriptor's /proc/self/fd link instead.
    auto via_fd = fmt::format("/proc/self/fd/{}", fd.get());
    if (::fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, kMarkMask, AT_FDCWD, via_fd.c_str()) == 0) ++marked;
  }
  return marked;
}

void say(int fd, const std::string& text) {
  if (fd < 0) return;
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
}

Result<os::UniqueFd> init_fanotify(bool& audit) {
  unsigned flags = FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS;
  unsigned ev = O_RDONLY | O_LARGEFILE | O_CLOEXEC;
  int fd = audit ? ::fanotify_init(flags | FAN_ENABLE_AUDIT, ev) : -1;
  if (fd < 0) {
    audit = false;
    fd = ::fanotify_init(flags, ev);
  }
  if (fd < 0) return fail_errno("fanotify_init");
  return os::UniqueFd(fd);
}

Result<os::UniqueFd> signal_fd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return fail_errno("sigprocmask");
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return fail_errno("signalfd");
  return os::UniqueFd(fd);
}

// What the monitor allocates for a container (its config, policy, manifests,
// log buffers, each worker's read buffer) fits in this with room to spare.
constexpr std::size_t kHeapReserve = 1 << 20;

// One heap for every thread, grown now and mapped in one call. Each page it
// would otherwise touch first later is a page fault, after go (on create's
// path) or on the container's first exec; on a virtual machine a fault costs
// about 10 us, while MADV_POPULATE_WRITE maps pages at about 0.5 us each
// (shim/cli/start/populate_image.cpp has the figures). The workers allocate
// little, so they share the main arena rather than each mapping a 64 MiB
// heap of its own. Best effort: a kernel without the advice faults as before.
void populate_heap() {
  const auto top = reinterpret_cast<std::uintptr_t>(::sbrk(0));
  const std::size_t arena = ::mallinfo2().arena;
  const std::uintptr_t page = 4096, start = (top - arena + page - 1) & ~(page - 1);
  if (arena > 0 && start < top) ::madvise(reinterpret_cast<void*>(start), top - start, MADV_POPULATE_WRITE);
}

void prepare_heap() {
  ::mallopt(M_ARENA_MAX, 1);
  ::mallopt(M_TOP_PAD, static_cast<int>(kHeapReserve));  // grown, and trimmed back, to this above use
  std::free(std::malloc(1));
  populate_heap();
}

struct Setup {
  os::UniqueFd fan, init_pidfd, sigfd, timer, clean_w;
  bool audit = false;
  int marks = 0;
};

Result<Setup> set_up(const MonitorConfig& config) {
  Setup s;
  s.init_pidfd.reset(pidfd_open(config.init_pid));
  if (!s.init_pidfd) return fail_errno(fmt::format("pidfd_open of the container's init (pid {})", config.init_pid));
  s.audit = config.kernel_audit;
  IMASHIM_TRY(s.fan, init_fanotify(s.audit));
  IMASHIM_TRY(s.marks, mark_container(s.fan.get(), config.init_pid));
  IMASHIM_TRY(s.sigfd, signal_fd());
  s.timer.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  struct itimerspec its {};
  its.it_interval.tv_nsec = its.it_value.tv_nsec = 500'000'000;  // pcrs files refreshed twice a second
  ::timerfd_settime(s.timer.get(), 0, &its, nullptr);
  if (config.guardian) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return fail_errno("pipe");
    s.clean_w.reset(pipefd[1]);
    os::UniqueFd clean_r(pipefd[0]);
    os::UniqueFd self(pidfd_open(::getpid()));
    IMASHIM_TRY_VOID(start_guardian(config, self.get(), s.init_pidfd.get(), clean_r.get()));
    populate_heap();  // the fork left every page shared copy-on-write: ours again in one call
  }
  return s;
}

// Capabilities kept after setup: reading files for ignore marks, relabelling
// (security.* needs CAP_SYS_ADMIN) when appraisal is on, audit records.
std::vector<int> kept_capabilities(const MonitorConfig& config) {
  std::vector<int> keep{CAP_DAC_READ_SEARCH};
  if (config.mode != Mode::measure) keep.push_back(CAP_SYS_ADMIN);
  if (config.kernel_audit) keep.push_back(CAP_AUDIT_WRITE);
  return keep;
}

bool init_exited(int pidfd) {
  struct pollfd p {pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

// Removes every mark of the group (mount marks and the inode ignore marks).
void release_marks(int fan) {
  ::fanotify_mark(fan, FAN_MARK_FLUSH | FAN_MARK_MOUNT, 0, AT_FDCWD, nullptr);
  ::fanotify_mark(fan, FAN_MARK_FLUSH, 0, AT_FDCWD, nullptr);
}

int event_loop(Monitor& m, Setup& s) {
  bool dirty = false;
  for (;;) {
    struct pollfd fds[4] = {{s.fan.get(), POLLIN, 0},
                            {s.init_pidfd.get(), POLLIN, 0},
                            {s.sigfd.get(), POLLIN, 0},
                            {s.timer.get(), POLLIN, 0}};
    if (::poll(fds, 4, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents & POLLIN) {
      m.drain();
      dirty = true;
    }
    if (fds[3].revents & POLLIN) {
      std::uint64_t ticks;
      (void)!::read(s.timer.get(), &ticks, sizeof ticks);
      if (dirty) (void)m.engine().refresh();
      dirty = false;
    }
    if (fds[2].revents & POLLIN) return 0;  // SIGTERM: a requested stop
    if (fds[1].revents & POLLIN) return 0;  // the container's init exited
  }
}

}  // namespace

void warm_up() {
  // A digest computed, not only looked up: OpenSSL reads its configuration
  // and loads its provider at the first fetch and init.
  (void)formats::hash_bytes(formats::HashAlgo::sha1, {});
  (void)formats::hash_bytes(formats::HashAlgo::sha256, {});
  prepare_heap();
  // The exit's sync threads, which only ever fsync: without a capability
  // from their first instruction, so run_monitor's drop need not reach them.
  start_sync_threads(kExitSyncThreads, [] { (void)drop_capabilities({}); });
  (void)prepare_confinement();  // on failure run_monitor() builds it again, and reports
}

int run_monitor(const MonitorConfig& config, int ready_fd) {
  ::prctl(PR_SET_NAME, "ima-monitor", 0, 0, 0);
  ::signal(SIGCHLD, SIG_IGN);  // the guardian is reaped by the kernel
  ::signal(SIGPIPE, SIG_IGN);
  std::error_code ec;
  std::filesystem::create_directories(config.log_dir, ec);
  if (!config.state_dir.empty()) {  // so that a failed attach can find and stop us
    std::ofstream(config.state_dir / "monitor.pid") << ::getpid() << "\n";
  }
  auto engine = make_engine(config);
  if (!engine) {
    say(ready_fd, "error " + engine.error().message() + "\n");
    return 2;
  }
  auto setup = set_up(config);
  if (!setup) {
    say(ready_fd, "error " + setup.error().message() + "\n");
    return 2;
  }
  Setup& s = *setup;
  Monitor m(config, std::move(*engine), s.fan.get(), s.audit);
  if (auto r = drop_capabilities(kept_capabilities(config)); !r) {
    say(ready_fd, "error " + r.error().message() + "\n");
    return 2;
  }
  // Capabilities are per thread: drop them before the workers start. The
  // seccomp filter is synchronized to every thread (TSYNC) after.
  m.start(config.workers);
  start_sync_threads(kExitSyncThreads);  // unless warm_up() started them
  if (auto r = confine_monitor(); !r) {
    say(ready_fd, "error " + r.error().message() + "\n");
    m.stop();
    stop_sync_threads();
    return 2;
  }
  say(ready_fd, fmt::format("ready {} marks={}\n", ::getpid(), s.marks));
  // While create returns and the engine starts the container: events wait in
  // the kernel's queue meanwhile.
  if (std::filesystem::exists(config.log_dir / "policy")) (void)sync_file(config.log_dir / "policy");
  int rc = event_loop(m, s);
  // Answer whatever is still queued, then finish the log. Closing the
  // fanotify fd makes the kernel allow any event nobody answered.
  bool gone = init_exited(s.init_pidfd.get());
  m.drain();
  m.stop();
  // With the container gone, drop the marks now: the kernel frees them in
  // the background (a deferred worker waits out a grace period) while the
  // log is flushed below. Left to the close of the fanotify fd at exit, that
  // wait (10-25 ms measured) came after the log and delayed our exit, which
  // delete waits for. Events queued meanwhile are allowed when the fd closes,
  // as before. A requested stop of a live container keeps the marks to the end.
  if (gone) release_marks(s.fan.get());
  auto flushed = m.engine().flush();
  stop_sync_threads();
  if (s.clean_w) (void)!::write(s.clean_w.get(), gone ? "x" : "s", 1);
  // After the guardian was told: a monitor killed before this line leaves no
  // mark, and detach repairs and finalizes the log itself.
  keep_stderr_log(config.state_dir, config.log_dir);
  if (flushed && !config.state_dir.empty()) {
    os::UniqueFd mark(::open((config.state_dir / kFinalizedMark).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  }
  return rc;
}

}  // namespace imashim::backends::fanotify
