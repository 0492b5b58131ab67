// runc 1.1's command line parsed with its model (runc_model.hpp), so that the container id, the bundle and the files
// runc is told to use are found however an engine spells them
// (`--bundle B`, `--bundle=B`, `-b B`, `-bundle B`, flags after the id).
// Flags the model does not know are kept and passed on untouched.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/runtime/runc_model.hpp"
#include "imashim/util/result.hpp"

namespace imashim::runtime {

// The global flags (before the subcommand) and the subcommands.
std::span<const FlagSpec> global_flags();
std::span<const CommandSpec> commands();

// One flag as it appeared on the command line.
struct ParsedFlag {
  std::string name;    // canonical name when known, else as written (without dashes)
  std::string value;   // the value; "true" for a bool flag without "=value"
  bool known = false;
};

// A parsed command line. `argv` is kept as given: pass-through uses it as is.
struct RuncCommand {
  std::vector<std::string> argv;        // argv[0] is the program name
  std::vector<ParsedFlag> globals;
  std::optional<std::size_t> command_index;  // index in argv of the subcommand
  const CommandSpec* spec = nullptr;    // nullptr: no subcommand, or one runc may know and we do not
  std::string command;                  // the subcommand as written ("" if none)
  std::vector<ParsedFlag> flags;        // the subcommand's flags
  std::vector<std::string> positionals; // container id first, then the rest (kill's signal)

  CommandRole role() const { return spec ? spec->role : CommandRole::pass_through; }
  // Last value of a global / subcommand flag by canonical name.
  std::optional<std::string> global(std::string_view name) const;
  std::optional<std::string> flag(std::string_view name) const;
  // A bool flag: present and not "=false".
  bool flag_set(std::string_view name) const;
  // The container id (first positional), if any.
  std::optional<std::string> container_id() const;
  // The global flags as they were written (argv[1 .. command_index)), for
  // follow-up runc calls (`runc delete --force`, `runc start`) that must use
  // the same --root, --log, --systemd-cgroup...
  std::vector<std::string> global_args() const;
};

// Parses argv (argv[0] included). Never fails on unknown flags; fails only on
// a known value flag with its value missing at the end of the line.
Result<RuncCommand> parse_runc_command(std::vector<std::string> argv);

// A container id runc accepts and that is safe as a path component:
// [A-Za-z0-9_+.-]+, not "." or "..".
Result<void> validate_container_id(std::string_view id);

}  // namespace imashim::runtime
