// Finding and calling the real runc, and writing errors where engines read
// them (runc's --log file, in runc's own log format).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/runtime/config.hpp"
#include "imashim/runtime/runc_cli.hpp"
#include "imashim/util/result.hpp"

namespace imashim::runtime {

// The runc to call: the node config's runc_path, else the first `runc` in
// $PATH that is not this executable (same device and inode as /proc/self/exe,
// also through symlinks), so that ima-runc installed as `runc` never recurses.
Result<std::filesystem::path> find_real_runc(const NodeConfig& config);
// Same search with an explicit PATH value and self executable (for tests).
Result<std::filesystem::path> find_real_runc_in(const std::filesystem::path& configured, std::string_view path_env,
                                                const std::filesystem::path& self_exe);
// The same with several executables that are not runc (ima-runc's front end and full implementation).
Result<std::filesystem::path> find_real_runc_in(const std::filesystem::path& configured, std::string_view path_env,
                                                const std::vector<std::filesystem::path>& selves);

// Replaces this process with `runc` and the same arguments (argv[0] becomes
// the runc path). Returns only on failure.
Error exec_runc(const std::filesystem::path& runc, const std::vector<std::string>& argv);

// Runs runc with `args` (no argv[0]) as a child with our stdio and every fd we
// have not marked close-on-exec (so --preserve-fds and LISTEN_FDS reach it;
// LISTEN_PID is rewritten to the child's pid). Returns the exit status as a
// shell would report it (128+signal when killed).
Result<int> run_runc(const std::filesystem::path& runc, const std::vector<std::string>& args);
// The same in two halves: start runc, later wait for it.
Result<pid_t> spawn_runc(const std::filesystem::path& runc, const std::vector<std::string>& args);
Result<int> wait_runc(pid_t pid);
// The runc the front end started with this command's own argv before it
// exec'd us (kRuncStartedEnv, front_core.hpp), if that pid is a child of ours;
// the variable is removed so that nothing we start inherits it.
std::optional<pid_t> take_started_runc();
// Same, with stdout and stderr captured (stdin from /dev/null).
struct Captured {
  int status = 0;
  std::string out;
  std::string err;
};
Result<Captured> run_runc_captured(const std::filesystem::path& runc, const std::vector<std::string>& args);

// Writes an error the way runc logs it: to the --log file given in the
// command's global flags (json: {"level":"error","msg":...,"time":RFC3339};
// text: time="..." level=error msg="..."), and always to stderr.
void report_error(const RuncCommand& cmd, std::string_view message);
// One log line in runc's format, without the newline.
std::string runc_log_line(std::string_view format, std::string_view level, std::string_view message,
                          std::string_view time_rfc3339);

}  // namespace imashim::runtime
