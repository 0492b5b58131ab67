#include "imashim/runtime/runc_cli.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace imashim::runtime {
namespace {

FlagSpec val(std::initializer_list<std::string_view> names) { return {names, true}; }
FlagSpec flag(std::initializer_list<std::string_view> names) { return {names, false}; }

// Flags shared by several subcommands.
const FlagSpec kBundle = val({"bundle", "b"});
const FlagSpec kConsoleSocket = val({"console-socket"});
const FlagSpec kPidFile = val({"pid-file"});
const FlagSpec kPreserveFds = val({"preserve-fds"});
const FlagSpec kNoPivot = flag({"no-pivot"});
const FlagSpec kNoNewKeyring = flag({"no-new-keyring"});
const FlagSpec kDetach = flag({"detach", "d"});
const FlagSpec kNoSubreaper = flag({"no-subreaper"});
const FlagSpec kHelp = flag({"help", "h"});

std::vector<CommandSpec> make_commands() {
  using R = CommandRole;
  const std::vector<FlagSpec> criu_common{
      val({"image-path"}), val({"work-path"}), flag({"tcp-established"}), flag({"ext-unix-sk"}),
      flag({"shell-job"}), flag({"file-locks"}), val({"manage-cgroups-mode"}), val({"empty-ns"}),
      flag({"auto-dedup"}), flag({"lazy-pages"})};
  auto with = [&](std::vector<FlagSpec> own) {
    own.insert(own.end(), criu_common.begin(), criu_common.end());
    return own;
  };
  return {
      {"create", R::create, {kBundle, kConsoleSocket, kPidFile, kNoPivot, kNoNewKeyring, kPreserveFds, kHelp}},
      {"run", R::run,
       {kBundle, kConsoleSocket, kDetach, flag({"keep"}), kPidFile, kNoSubreaper, kNoPivot, kNoNewKeyring,
        kPreserveFds, kHelp}},
      {"delete", R::remove, {flag({"force", "f"}), kHelp}},
      {"start", R::pass_through, {kHelp}},
      {"exec", R::pass_through,
       {kConsoleSocket, val({"cwd"}), val({"env", "e"}), flag({"tty", "t"}), val({"user", "u"}),
        val({"additional-gids", "g"}), val({"process", "p"}), kDetach, kPidFile, val({"process-label"}),
        val({"apparmor"}), flag({"no-new-privs"}), val({"cap", "c"}), kPreserveFds, val({"cgroup"}),
        flag({"ignore-paused"}), kHelp}},
      {"state", R::pass_through, {kHelp}},
      {"kill", R::pass_through, {flag({"all", "a"}), kHelp}},
      {"list", R::pass_through, {val({"format", "f"}), flag({"quiet", "q"}), kHelp}},
      {"ps", R::pass_through, {val({"format", "f"}), kHelp}},
      {"pause", R::pass_through, {kHelp}},
      {"resume", R::pass_through, {kHelp}},
      {"update", R::pass_through,
       {val({"resources", "r"}), val({"blkio-weight"}), val({"cpu-period"}), val({"cpu-quota"}),
        val({"cpu-share"}), val({"cpu-rt-period"}), val({"cpu-rt-runtime"}), val({"cpuset-cpus"}),
        val({"cpuset-mems"}), val({"memory"}), val({"memory-reservation"}), val({"memory-swap"}),
        val({"pids-limit"}), val({"l3-cache-schema"}), val({"mem-bw-schema"}), kHelp}},
      {"events", R::pass_through, {val({"interval"}), flag({"stats"}), kHelp}},
      {"spec", R::pass_through, {kBundle, flag({"rootless"}), kHelp}},
      {"features", R::pass_through, {kHelp}},
      {"checkpoint", R::pass_through,
       with({val({"parent-path"}), flag({"leave-running"}), val({"status-fd"}), val({"page-server"}),
             flag({"pre-dump"}), kHelp})},
      {"restore", R::pass_through,
       with({kConsoleSocket, kBundle, kDetach, kPidFile, kNoSubreaper, kNoPivot, val({"lsm-profile"}),
             val({"lsm-mount-context"}), kHelp})},
      {"help", R::pass_through, {}},
      {"h", R::pass_through, {}},
  };
}

const FlagSpec* find_flag(const std::vector<FlagSpec>& specs, std::string_view name) {
  for (const auto& f : specs)
    if (std::find(f.names.begin(), f.names.end(), name) != f.names.end()) return &f;
  return nullptr;
}

bool is_flag_token(std::string_view t) { return t.size() > 1 && t.front() == '-' && t != "--"; }

// Parses the flag at argv[i]; advances i past its value when it takes one.
Result<ParsedFlag> parse_flag(const std::vector<std::string>& argv, std::size_t& i,
                              const std::vector<FlagSpec>& specs) {
  std::string_view tok = argv[i];
  tok.remove_prefix(tok.starts_with("--") ? 2 : 1);
  auto eq = tok.find('=');
  std::string_view name = tok.substr(0, eq);
  ParsedFlag out;
  const FlagSpec* spec = find_flag(specs, name);
  out.known = spec != nullptr;
  out.name = spec ? std::string(spec->names.front()) : std::string(name);
  if (eq != std::string_view::npos) {
    out.value = std::string(tok.substr(eq + 1));
  } else if (spec && spec->takes_value) {
    if (i + 1 >= argv.size()) return fail(fmt::format("flag {}: needs a value", argv[i]));
    out.value = argv[++i];
  } else {
    out.value = "true";
  }
  return out;
}

std::optional<std::string> last_value(const std::vector<ParsedFlag>& flags, std::string_view name) {
  for (auto it = flags.rbegin(); it != flags.rend(); ++it)
    if (it->name == name) return it->value;
  return std::nullopt;
}

}  // namespace

const std::vector<FlagSpec>& global_flags() {
  static const std::vector<FlagSpec> flags{
      flag({"debug"}), val({"log"}),          val({"log-format"}), val({"root"}),
      val({"criu"}),   flag({"systemd-cgroup"}), val({"rootless"}), flag({"help", "h"}),
      flag({"version", "v"})};
  return flags;
}

const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> cmds = make_commands();
  return cmds;
}

const CommandSpec* find_command(std::string_view name) {
  for (const auto& c : commands())
    if (c.name == name) return &c;
  return nullptr;
}

std::optional<std::string> RuncCommand::global(std::string_view name) const { return last_value(globals, name); }
std::optional<std::string> RuncCommand::flag(std::string_view name) const { return last_value(flags, name); }

bool RuncCommand::flag_set(std::string_view name) const {
  auto v = flag(name);
  return v && *v != "false";
}

std::optional<std::string> RuncCommand::container_id() const {
  if (positionals.empty()) return std::nullopt;
  return positionals.front();
}

std::vector<std::string> RuncCommand::global_args() const {
  std::size_t end = command_index.value_or(argv.size());
  return {argv.begin() + 1, argv.begin() + static_cast<std::ptrdiff_t>(end)};
}

Result<RuncCommand> parse_runc_command(std::vector<std::string> argv) {
  RuncCommand cmd;
  cmd.argv = std::move(argv);
  std::size_t i = 1;
  for (; i < cmd.argv.size() && is_flag_token(cmd.argv[i]); ++i) {
    IMASHIM_TRY(auto f, parse_flag(cmd.argv, i, global_flags()));
    cmd.globals.push_back(std::move(f));
  }
  if (i >= cmd.argv.size() || cmd.argv[i] == "--") return cmd;
  cmd.command_index = i;
  cmd.command = cmd.argv[i];
  cmd.spec = find_command(cmd.command);
  static const std::vector<FlagSpec> kNone;
  const auto& specs = cmd.spec ? cmd.spec->flags : kNone;
  bool flags_done = false;
  for (++i; i < cmd.argv.size(); ++i) {
    const std::string& tok = cmd.argv[i];
    if (!flags_done && tok == "--") {
      flags_done = true;
    } else if (!flags_done && is_flag_token(tok)) {
      IMASHIM_TRY(auto f, parse_flag(cmd.argv, i, specs));
      cmd.flags.push_back(std::move(f));
    } else {
      cmd.positionals.push_back(tok);
    }
  }
  return cmd;
}

Result<void> validate_container_id(std::string_view id) {
  auto ok_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
           c == '-' || c == '.';
  };
  if (id.empty() || id == "." || id == ".." || !std::all_of(id.begin(), id.end(), ok_char))
    return fail(fmt::format("invalid container id \"{}\": expected [A-Za-z0-9_+.-]+", id));
  return {};
}

}  // namespace imashim::runtime
