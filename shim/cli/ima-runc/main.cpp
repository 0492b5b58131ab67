// ima-runc: a runc-compatible OCI runtime that measures and appraises the
// container's files (see docs/runtime.md). This is its front end: it execs
// runc for what needs no IMA steps and ima-runc-full for the rest, deciding
// with shim/runtime/front_core.cpp. It links no C library: its own entry
// point and the handful of system calls below, so that a runc command costs
// one exec of a small program and no C library start-up (front_core.hpp).
#include <asm/unistd.h>
#include <fcntl.h>
#include <linux/stat.h>

#include <cerrno>
#include <cstddef>
#include <string_view>

#include "imashim/runtime/front_core.hpp"

using namespace imashim::runtime;

// What the compiler may call for copies and comparisons of its own accord.
extern "C" {
void* memcpy(void* d, const void* s, std::size_t n) {
  auto* dp = static_cast<unsigned char*>(d);
  auto* sp = static_cast<const unsigned char*>(s);
  while (n--) *dp++ = *sp++;
  return d;
}
void* memmove(void* d, const void* s, std::size_t n) {
  auto* dp = static_cast<unsigned char*>(d);
  auto* sp = static_cast<const unsigned char*>(s);
  if (dp < sp)
    while (n--) *dp++ = *sp++;
  else
    while (n--) dp[n] = sp[n];
  return d;
}
void* memset(void* d, int c, std::size_t n) {
  auto* dp = static_cast<unsigned char*>(d);
  while (n--) *dp++ = static_cast<unsigned char>(c);
  return d;
}
int memcmp(const void* a, const void* b, std::size_t n) {
  auto* ap = static_cast<const unsigned char*>(a);
  auto* bp = static_cast<const unsigned char*>(b);
  for (; n; --n, ++ap, ++bp)
    if (*ap != *bp) return *ap < *bp ? -1 : 1;
  return 0;
}
std::size_t strlen(const char* s) {
  std::size_t n = 0;
  while (s[n]) ++n;
  return n;
}
void* memchr(const void* s, int c, std::size_t n) {
  auto* p = static_cast<const unsigned char*>(s);
  for (; n; --n, ++p)
    if (*p == static_cast<unsigned char>(c)) return const_cast<unsigned char*>(p);
  return nullptr;
}
}

namespace {

[[noreturn]] void die(int code);

}  // namespace

// The C++ library's error paths the headers reference (string_view bounds):
// unreachable here, they end the process.
namespace std {
[[noreturn]] void __throw_out_of_range_fmt(const char*, ...) { die(127); }
[[noreturn]] void __throw_out_of_range(const char*) { die(127); }
[[noreturn]] void __throw_logic_error(const char*) { die(127); }
[[noreturn]] void __throw_length_error(const char*) { die(127); }
}  // namespace std

namespace {

#if defined(__x86_64__)
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
}
#else
#error "ima-runc's front end has system calls for x86_64 and aarch64; build with IMASHIM_FRONT_HOSTED=ON"
#endif

[[noreturn]] void die(int code) {
  for (;;) sys(__NR_exit_group, code);
}

long sys_open(const char* path, int flags, int mode = 0) {
  return sys(__NR_openat, AT_FDCWD, reinterpret_cast<long>(path), flags, mode);
}
void sys_close(long fd) { sys(__NR_close, fd); }
long sys_write_all(long fd, std::string_view s) {
  while (!s.empty()) {
    long n = sys(__NR_write, fd, reinterpret_cast<long>(s.data()), static_cast<long>(s.size()));
    if (n == -EINTR) continue;
    if (n <= 0) return n;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

long read_file(const char* path, char* buf, std::size_t cap) {
  long fd = sys_open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fd;
  std::size_t got = 0;
  long result = 0;
  for (;;) {
    if (got == cap) {
      result = -EFBIG;
      break;
    }
    long n = sys(__NR_read, fd, reinterpret_cast<long>(buf + got), static_cast<long>(cap - got));
    if (n == -EINTR) continue;
    if (n < 0) {
      result = n;
      break;
    }
    if (n == 0) {
      result = static_cast<long>(got);
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  sys_close(fd);
  return result;
}

int stat_path(const char* path, bool* regular, bool* executable, unsigned long* dev, unsigned long* ino) {
  struct statx sx {};
  long r = sys(__NR_statx, AT_FDCWD, reinterpret_cast<long>(path), 0, STATX_TYPE | STATX_INO,
               reinterpret_cast<long>(&sx));
  if (r != 0) return static_cast<int>(r);
  *regular = (sx.stx_mode & 0170000) == 0100000;
  *executable = sys(__NR_faccessat, AT_FDCWD, reinterpret_cast<long>(path), 1 /* X_OK */) == 0;
  *dev = (static_cast<unsigned long>(sx.stx_dev_major) << 32) | sx.stx_dev_minor;
  *ino = sx.stx_ino;
  return 0;
}

// Whether an environment entry sets `name` ("NAME=...").
bool is_var(std::string_view entry, std::string_view name) {
  return entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=';
}

std::string_view getenv(const char* const* envp, std::string_view name, bool* found = nullptr) {
  for (; *envp; ++envp) {
    std::string_view e = *envp;
    if (is_var(e, name)) {
      if (found) *found = true;
      return e.substr(name.size() + 1);
    }
  }
  if (found) *found = false;
  return {};
}

std::string_view errno_name(long e) {
  switch (-e) {
    case ENOENT: return "no such file or directory";
    case EACCES: return "permission denied";
    case ENOEXEC: return "exec format error";
    case ENOTDIR: return "not a directory";
    case ELOOP: return "too many levels of symbolic links";
    case E2BIG: return "argument list too long";
    case ENOMEM: return "cannot allocate memory";
    case ETXTBSY: return "text file busy";
    default: return "error";
  }
}

// A line of text built in place.
struct Line {
  char text[8192];
  std::size_t size = 0;
  Line& operator<<(std::string_view s) {
    for (char c : s)
      if (size < sizeof text) text[size++] = c;
    return *this;
  }
  Line& num(unsigned long v, int width) {
    char d[20];
    int k = 0;
    do d[k++] = static_cast<char>('0' + v % 10), v /= 10;
    while (v);
    for (int pad = width - k; pad > 0; --pad) *this << "0";
    while (k) *this << std::string_view(&d[--k], 1);
    return *this;
  }
  // `s` as a JSON string's contents (escaped as nlohmann::json dumps it).
  Line& json(std::string_view s) {
    constexpr std::string_view hex = "0123456789abcdef";
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') *this << "\\" << std::string_view(&c, 1);
      else if (c == '\n') *this << "\\n";
      else if (c == '\t') *this << "\\t";
      else if (c == '\r') *this << "\\r";
      else if (c == '\b') *this << "\\b";
      else if (c == '\f') *this << "\\f";
      else if (u < 0x20) {
        char h[2] = {hex[u >> 4], hex[u & 15]};
        *this << "\\u00" << std::string_view(h, 2);
      }
      else *this << std::string_view(&c, 1);
    }
    return *this;
  }
  std::string_view view() const { return {text, size}; }
};

// The current UTC time as runc writes it in its log (RFC 3339, nanoseconds).
void rfc3339_now(Line& out) {
  struct {
    long tv_sec, tv_nsec;
  } ts{};
  sys(__NR_clock_gettime, 0 /* CLOCK_REALTIME */, reinterpret_cast<long>(&ts));
  long days = ts.tv_sec / 86400, secs = ts.tv_sec % 86400;
  // Days since 1970-01-01 to a civil date (proleptic Gregorian calendar).
  long z = days + 719468, era = z / 146097;
  long doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  long day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9, year = yoe + era * 400 + (month <= 2);
  out.num(static_cast<unsigned long>(year), 4) << "-";
  out.num(static_cast<unsigned long>(month), 2) << "-";
  out.num(static_cast<unsigned long>(day), 2) << "T";
  out.num(static_cast<unsigned long>(secs / 3600), 2) << ":";
  out.num(static_cast<unsigned long>(secs / 60 % 60), 2) << ":";
  out.num(static_cast<unsigned long>(secs % 60), 2) << ".";
  out.num(static_cast<unsigned long>(ts.tv_nsec), 9) << "Z";
}

// An error where the engine reads it: stderr, and runc's --log file in its format.
void report(const front::CommandView& cmd, std::string_view message) {
  Line err;
  err << "ima-runc: " << message << "\n";
  sys_write_all(2, err.view());
  if (cmd.log.empty() || cmd.log == "/dev/stderr") return;
  front::Path log;
  if (!log.set(cmd.log)) return;
  Line time, line;
  rfc3339_now(time);
  if (cmd.log_format == "json") {
    line << "{\"level\":\"error\",\"msg\":\"";
    line.json("ima-runc: ").json(message) << "\",\"time\":\"" << time.view() << "\"}\n";
  } else {
    line << "time=\"" << time.view() << "\" level=error msg=\"";
    line.json("ima-runc: ").json(message) << "\"\n";
  }
  long fd = sys_open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  sys_write_all(fd, line.view());
  sys_close(fd);
}

constexpr std::size_t kMaxArgs = 1 << 15;
const char* g_args[kMaxArgs + 1];
const char* g_env[kMaxArgs + 3];
char g_file[front::kFileBuffer];
front::Decision g_decision;
front::Path g_self, g_full;
front::Path g_front_var;    // IMASHIM_RUNC_FRONT=<self>
front::Path g_started_var;  // IMASHIM_RUNC_STARTED=<pid>

// Execs runc with the command's arguments; returns only on failure, reported.
void exec_runc(int argc, const char* const* argv, const char* const* envp) {
  g_args[0] = g_decision.runc.c_str();
  for (int i = 1; i < argc; ++i) g_args[i] = argv[i];
  g_args[argc] = nullptr;
  long e = sys(__NR_execve, reinterpret_cast<long>(g_decision.runc.c_str()), reinterpret_cast<long>(g_args),
               reinterpret_cast<long>(envp));
  Line m;
  m << "exec " << g_decision.runc.view() << ": " << errno_name(e);
  report(g_decision.command, m.view());
}

// Starts runc with the command's arguments (Decision::start_runc): its pid,
// or 0 when it was not started (the full implementation then starts it).
long start_runc(int argc, const char* const* argv, const char* const* envp) {
  if (sys(__NR_faccessat, AT_FDCWD, reinterpret_cast<long>(g_full.c_str()), 1 /* X_OK */) != 0) return 0;
  long pid = sys(__NR_clone, 17 /* SIGCHLD: a fork */, 0, 0, 0, 0);
  if (pid != 0) return pid > 0 ? pid : 0;
  exec_runc(argc, argv, envp);
  die(127);
}

int front_main(int argc, const char* const* argv, const char* const* envp) {
  long n = sys(__NR_readlinkat, AT_FDCWD, reinterpret_cast<long>("/proc/self/exe"), reinterpret_cast<long>(g_self.text),
               static_cast<long>(front::Path::kCap - 1));
  if (n > 0) {
    g_self.size = static_cast<std::size_t>(n);
    g_self.text[n] = '\0';
  } else {
    g_self.set("/proc/self/exe");
  }
  front::Inputs in;
  in.argc = argc;
  in.argv = argv;
  in.config_env = getenv(envp, "IMASHIM_CONFIG");
  in.path_env = getenv(envp, "PATH", &in.path_set);
  in.front_env = getenv(envp, kFrontEnv);
  in.self_exe = g_self.view();
  getenv(envp, "LISTEN_PID", &in.listen_pid_set);
  in.file_buf = g_file;
  in.file_cap = sizeof g_file;
  if (argc < 1 || static_cast<std::size_t>(argc) > kMaxArgs) {
    report(front::CommandView{}, argc < 1 ? "no arguments" : "too many arguments");
    return 1;
  }
  front::decide(in, front::Os{read_file, stat_path}, g_decision);
  const front::CommandView& cmd = g_decision.command;
  if (g_decision.to == front::Decision::To::runc) {
    exec_runc(argc, argv, envp);
    return 127;
  }
  // ima-runc-full, next to us, told which executable is its front end.
  std::string_view self = g_self.view();
  auto slash = self.rfind('/');
  g_full.set(slash == std::string_view::npos ? "." : self.substr(0, slash), "/", kFullImplementation);
  if (!g_front_var.set(kFrontEnv, "=", self)) {
    report(cmd, "the path of ima-runc is too long");
    return 1;
  }
  std::size_t k = 0;
  for (const char* const* e = envp; *e && k < kMaxArgs; ++e)
    if (!is_var(*e, kFrontEnv) && !is_var(*e, kRuncStartedEnv)) g_env[k++] = *e;
  g_env[k++] = g_front_var.c_str();
  long runc_pid = g_decision.start_runc ? start_runc(argc, argv, envp) : 0;
  if (runc_pid > 0) {
    Line pid;
    pid.num(static_cast<unsigned long>(runc_pid), 1);
    g_started_var.set(kRuncStartedEnv, "=", pid.view());
    g_env[k++] = g_started_var.c_str();
  }
  g_env[k] = nullptr;
  long e = sys(__NR_execve, reinterpret_cast<long>(g_full.c_str()), reinterpret_cast<long>(argv),
               reinterpret_cast<long>(g_env));
  if (runc_pid > 0) {  // nobody would attach to what it creates
    sys(__NR_kill, runc_pid, 9 /* SIGKILL */);
    sys(__NR_wait4, runc_pid, 0, 0, 0);
  }
  Line m;
  m << "cannot run " << g_full.view() << ": " << errno_name(e);
  report(cmd, m.view());
  return 1;
}

}  // namespace

extern "C" [[noreturn]] void imashim_front_start(long* sp) {
  int argc = static_cast<int>(sp[0]);
  auto argv = reinterpret_cast<const char* const*>(sp + 1);
  die(front_main(argc, argv, argv + argc + 1));
}

#if defined(__x86_64__)
__asm__(".text\n.global _start\n_start:\n  xor %rbp, %rbp\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call imashim_front_start\n");
#elif defined(__aarch64__)
__asm__(".text\n.global _start\n_start:\n  mov x29, #0\n  mov x30, #0\n  mov x0, sp\n  and sp, x0, #-16\n  b imashim_front_start\n");
#endif
