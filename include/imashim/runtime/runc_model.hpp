// runc 1.1's command line as data: the global flags, every subcommand, its
// role for ima-runc, and which flags take a value. Constant tables with no
// allocation, so that ima-runc's front end (built without a C library, see
// shim/runtime/front_core.hpp) and the full implementation's parser
// (runc_cli.hpp) read the same model.
#pragma once

#include <array>
#include <span>
#include <string_view>

namespace imashim::runtime {

// What ima-runc does with a subcommand.
enum class CommandRole {
  pass_through,  // exec runc with the same argv
  create,        // label, policy, runc create, attach
  run,           // create + start + wait + delete
  remove,        // runc delete, then detach and finalize
};

struct FlagSpec {
  std::array<std::string_view, 2> names;  // without dashes; [0] canonical, [1] the short form or empty
  bool takes_value = false;

  constexpr std::string_view canonical() const { return names[0]; }
  constexpr bool is(std::string_view name) const {
    return name == names[0] || (!names[1].empty() && name == names[1]);
  }
};

struct CommandSpec {
  std::string_view name;
  CommandRole role = CommandRole::pass_through;
  std::span<const FlagSpec> flags;
};

namespace runc_model {

constexpr FlagSpec val(std::string_view name, std::string_view alias = {}) { return {{name, alias}, true}; }
constexpr FlagSpec flag(std::string_view name, std::string_view alias = {}) { return {{name, alias}, false}; }

inline constexpr FlagSpec kGlobal[] = {flag("debug"), val("log"),       val("log-format"),
                                       val("root"),   val("criu"),      flag("systemd-cgroup"),
                                       val("rootless"), flag("help", "h"), flag("version", "v")};

inline constexpr FlagSpec kCreate[] = {val("bundle", "b"),   val("console-socket"), val("pid-file"),
                                       flag("no-pivot"),     flag("no-new-keyring"), val("preserve-fds"),
                                       flag("help", "h")};
inline constexpr FlagSpec kRun[] = {val("bundle", "b"),  val("console-socket"), flag("detach", "d"),
                                    flag("keep"),        val("pid-file"),       flag("no-subreaper"),
                                    flag("no-pivot"),    flag("no-new-keyring"), val("preserve-fds"),
                                    flag("help", "h")};
inline constexpr FlagSpec kDelete[] = {flag("force", "f"), flag("help", "h")};
inline constexpr FlagSpec kHelpOnly[] = {flag("help", "h")};
inline constexpr FlagSpec kExec[] = {
    val("console-socket"), val("cwd"),           val("env", "e"),       flag("tty", "t"),
    val("user", "u"),      val("additional-gids", "g"), val("process", "p"), flag("detach", "d"),
    val("pid-file"),       val("process-label"), val("apparmor"),       flag("no-new-privs"),
    val("cap", "c"),       val("preserve-fds"),  val("cgroup"),         flag("ignore-paused"),
    flag("help", "h")};
inline constexpr FlagSpec kKill[] = {flag("all", "a"), flag("help", "h")};
inline constexpr FlagSpec kList[] = {val("format", "f"), flag("quiet", "q"), flag("help", "h")};
inline constexpr FlagSpec kPs[] = {val("format", "f"), flag("help", "h")};
inline constexpr FlagSpec kUpdate[] = {
    val("resources", "r"), val("blkio-weight"), val("cpu-period"),     val("cpu-quota"),
    val("cpu-share"),      val("cpu-rt-period"), val("cpu-rt-runtime"), val("cpuset-cpus"),
    val("cpuset-mems"),    val("memory"),       val("memory-reservation"), val("memory-swap"),
    val("pids-limit"),     val("l3-cache-schema"), val("mem-bw-schema"), flag("help", "h")};
inline constexpr FlagSpec kEvents[] = {val("interval"), flag("stats"), flag("help", "h")};
inline constexpr FlagSpec kSpec[] = {val("bundle", "b"), flag("rootless"), flag("help", "h")};
// checkpoint's and restore's own flags, then the CRIU flags both take.
inline constexpr FlagSpec kCheckpoint[] = {
    val("parent-path"), flag("leave-running"), val("status-fd"), val("page-server"), flag("pre-dump"),
    flag("help", "h"),  val("image-path"),     val("work-path"), flag("tcp-established"), flag("ext-unix-sk"),
    flag("shell-job"),  flag("file-locks"),    val("manage-cgroups-mode"), val("empty-ns"), flag("auto-dedup"),
    flag("lazy-pages")};
inline constexpr FlagSpec kRestore[] = {
    val("console-socket"), val("bundle", "b"),  flag("detach", "d"),  val("pid-file"),  flag("no-subreaper"),
    flag("no-pivot"),      val("lsm-profile"),  val("lsm-mount-context"), flag("help", "h"), val("image-path"),
    val("work-path"),      flag("tcp-established"), flag("ext-unix-sk"), flag("shell-job"), flag("file-locks"),
    val("manage-cgroups-mode"), val("empty-ns"), flag("auto-dedup"), flag("lazy-pages")};

using R = CommandRole;
inline constexpr CommandSpec kCommands[] = {
    {"create", R::create, kCreate},         {"run", R::run, kRun},
    {"delete", R::remove, kDelete},         {"start", R::pass_through, kHelpOnly},
    {"exec", R::pass_through, kExec},       {"state", R::pass_through, kHelpOnly},
    {"kill", R::pass_through, kKill},       {"list", R::pass_through, kList},
    {"ps", R::pass_through, kPs},           {"pause", R::pass_through, kHelpOnly},
    {"resume", R::pass_through, kHelpOnly}, {"update", R::pass_through, kUpdate},
    {"events", R::pass_through, kEvents},   {"spec", R::pass_through, kSpec},
    {"features", R::pass_through, kHelpOnly}, {"checkpoint", R::pass_through, kCheckpoint},
    {"restore", R::pass_through, kRestore}, {"help", R::pass_through, {}},
    {"h", R::pass_through, {}},
};

}  // namespace runc_model

constexpr const FlagSpec* find_flag(std::span<const FlagSpec> specs, std::string_view name) {
  for (const auto& f : specs)
    if (f.is(name)) return &f;
  return nullptr;
}

constexpr const CommandSpec* find_command(std::string_view name) {
  for (const auto& c : runc_model::kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

// A flag token: "-x", "--x", "-x=v"; not "-" and not "--" (end of flags).
constexpr bool is_flag_token(std::string_view t) { return t.size() > 1 && t.front() == '-' && t != "--"; }

// A container id runc accepts and that is safe as a path component:
// [A-Za-z0-9_+.-]+, not "." or "..".
constexpr bool is_valid_container_id(std::string_view id) {
  if (id.empty() || id == "." || id == "..") return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
          c == '-' || c == '.'))
      return false;
  return true;
}

}  // namespace imashim::runtime
