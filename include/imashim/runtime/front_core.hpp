// ima-runc's front end, the decision: runc or the full implementation. It is
// built twice: into the `ima-runc` executable, which links no C library (on
// this kind of machine a C library's start-up alone, mostly its CPUID probes,
// costs about 0.3 ms, and the front end runs for every runc command an engine
// issues), and into the library, where route_command() (front.hpp) serves the
// tests and the builds with sanitizers. So it uses no allocation, no
// exceptions and no library call: the system is reached through `Os`, text is
// std::string_view, buffers are the caller's.
//
// It is stricter than the full implementation, never looser: it sends a
// command to runc only where ima-runc-full would do the same with the same
// runc; anything it does not fully understand (a node config key it does not
// check, a TPM block, JSON it cannot read, an annotation of imashim's) goes
// to ima-runc-full, which decides again with every check and reports.
#pragma once

#include <cstddef>
#include <string_view>

#include "imashim/runtime/runc_model.hpp"

namespace imashim::runtime {

// The full implementation's executable name, next to the front end.
inline constexpr const char* kFullImplementation = "ima-runc-full";
// The environment variable through which the full implementation learns the
// front end's path: a `runc` in PATH that is the front end is never called.
inline constexpr const char* kFrontEnv = "IMASHIM_RUNC_FRONT";
// The environment variable through which the front end hands the full
// implementation the pid of the runc it started with the command's own argv
// (Decision::start_runc); the full implementation waits for that child rather
// than starting runc itself, and removes the variable.
inline constexpr const char* kRuncStartedEnv = "IMASHIM_RUNC_STARTED";

}  // namespace imashim::runtime

namespace imashim::runtime::front {

// The buffer the front end reads the node config and then the bundle's
// config.json into; a larger file goes to ima-runc-full.
inline constexpr std::size_t kFileBuffer = 1 << 20;

// The front end's only contact with the system. Errors are -errno.
struct Os {
  // Reads the whole file into buf; its size, or -EFBIG when it does not fit.
  long (*read_file)(const char* path, char* buf, std::size_t cap);
  // 0 when `path` exists; `regular`, `executable` (X_OK for us), device and inode.
  int (*stat)(const char* path, bool* regular, bool* executable, unsigned long* dev, unsigned long* ino);
};

// A path-sized buffer.
struct Path {
  static constexpr std::size_t kCap = 4096;
  char text[kCap];
  std::size_t size = 0;
  bool set(std::string_view a, std::string_view b = {}, std::string_view c = {});
  std::string_view view() const { return {text, size}; }
  const char* c_str() const { return text; }
};

// The part of the node config the front end decides with.
struct NodeView {
  bool mode_off = false;     // "mode": "off"
  bool backend_off = false;  // "backend": "off"
  std::string_view runc_path;  // "" when not set
  std::string_view state_root = "/run/imashim";
};

// Reads a node config document (JSON). False: not one the front end accepts
// (invalid JSON, a key or value it does not check, a TPM block).
bool read_node_config(std::string_view text, NodeView& out);

// Whether a bundle's config.json leaves the container in mode off: a JSON
// object whose "annotations", if present, is an object of strings that asks
// for no mode but off and carries no policy of its own.
bool annotations_keep_off(std::string_view config_json);

// The command line, as runc_cli.hpp parses it (the same model).
struct CommandView {
  bool ok = false;  // false: a known value flag without its value
  CommandRole role = CommandRole::pass_through;
  bool has_id = false;
  std::string_view id;      // the first positional
  std::string_view bundle;  // last --bundle/-b value; "" when not given
  std::string_view log, log_format;  // the global --log and --log-format ("" when not given)
};
CommandView scan_command(int argc, const char* const* argv);

// Where the command goes, with the runc to exec, and the command line as read.
// For a create or delete that goes to the full implementation, `start_runc`
// says the front end may start `runc` (with `runc` and the command's own argv)
// before it execs ima-runc-full: runc then runs while the full implementation
// starts and prepares, which does the same with runc's result as with a runc
// it started itself (docs/runtime.md, "The front end").
struct Decision {
  enum class To { runc, full } to = To::full;
  Path runc;
  bool start_runc = false;
  CommandView command;
};

// Everything the decision reads: the environment's IMASHIM_CONFIG, PATH and
// IMASHIM_RUNC_FRONT, our own executable, and buffers for the files.
struct Inputs {
  int argc = 0;
  const char* const* argv = nullptr;
  std::string_view config_env;  // IMASHIM_CONFIG ("" when unset)
  std::string_view path_env;    // PATH (nullptr-equivalent "" uses the default)
  bool path_set = false;
  std::string_view front_env;   // IMASHIM_RUNC_FRONT
  std::string_view self_exe;    // /proc/self/exe resolved, or "/proc/self/exe"
  bool listen_pid_set = false;  // LISTEN_PID: socket activation, whose pid the full implementation fixes
  char* file_buf = nullptr;     // for the node config, then the bundle config
  std::size_t file_cap = 0;
};
void decide(const Inputs& in, const Os& os, Decision& out);

}  // namespace imashim::runtime::front
