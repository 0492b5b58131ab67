// The front end's decision (front_core.hpp) with the C library's calls: for
// the tests, and as the whole `ima-runc` of builds with sanitizers, which
// need the C library.
#include "imashim/runtime/front.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "imashim/os/file.hpp"
#include "imashim/runtime/front_core.hpp"
#include "imashim/runtime/runc.hpp"
#include "imashim/runtime/runc_cli.hpp"

namespace imashim::runtime {
namespace {

namespace fs = std::filesystem;

long read_file(const char* path, char* buf, std::size_t cap) {
  auto text = os::read_file(path);
  if (!text) return text.error().sys_errno() ? -text.error().sys_errno() : -EIO;
  if (text->size() >= cap) return -EFBIG;
  std::memcpy(buf, text->data(), text->size());
  return static_cast<long>(text->size());
}

int stat_path(const char* path, bool* regular, bool* executable, unsigned long* dev, unsigned long* ino) {
  struct stat st {};
  if (::stat(path, &st) != 0) return -errno;
  *regular = S_ISREG(st.st_mode);
  *executable = ::access(path, X_OK) == 0;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return 0;
}

std::string_view env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

FrontRoute route_command(const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  for (const auto& a : argv) args.push_back(a.c_str());
  args.push_back(nullptr);
  static char file_buf[front::kFileBuffer];
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  std::string self_s = ec ? "/proc/self/exe" : self.string();
  front::Inputs in;
  in.argc = static_cast<int>(argv.size());
  in.argv = args.data();
  in.config_env = env("IMASHIM_CONFIG");
  in.path_set = std::getenv("PATH") != nullptr;
  in.path_env = env("PATH");
  in.front_env = env(kFrontEnv);
  in.self_exe = self_s;
  in.listen_pid_set = std::getenv("LISTEN_PID") != nullptr;
  in.file_buf = file_buf;
  in.file_cap = sizeof file_buf;
  static front::Decision d;
  front::decide(in, front::Os{read_file, stat_path}, d);
  if (d.to == front::Decision::To::runc) return {FrontRoute::To::runc, fs::path(std::string(d.runc.view()))};
  if (d.start_runc) return {FrontRoute::To::full, fs::path(std::string(d.runc.view())), true};
  return {};
}

int ima_runc_front_main(std::vector<std::string> argv) {
  auto route = route_command(argv);
  if (route.to == FrontRoute::To::runc) {
    auto e = exec_runc(route.runc, argv);
    std::fprintf(stderr, "ima-runc: %s\n", e.message().c_str());
    return 127;
  }
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  auto full = self.parent_path() / kFullImplementation;
  ::setenv(kFrontEnv, self.c_str(), 1);
  ::unsetenv(kRuncStartedEnv);
  pid_t runc_pid = -1;
  if (route.start_runc && ::access(full.c_str(), X_OK) == 0) {
    auto started = spawn_runc(route.runc, {argv.begin() + 1, argv.end()});
    if (started) {
      runc_pid = *started;
      ::setenv(kRuncStartedEnv, std::to_string(runc_pid).c_str(), 1);
    }
  }
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  ::execv(full.c_str(), args.data());
  int exec_errno = errno;
  if (runc_pid > 0) {  // nobody would attach to what it creates
    ::kill(runc_pid, SIGKILL);
    ::waitpid(runc_pid, nullptr, 0);
  }
  auto message = fmt::format("cannot run {}: {}", full.string(), std::strerror(exec_errno));
  if (auto cmd = parse_runc_command(argv))
    report_error(*cmd, message);
  else
    std::fprintf(stderr, "ima-runc: %s\n", message.c_str());
  return 1;
}

}  // namespace imashim::runtime
