#include "imashim/runtime/runc_cli.hpp"

#include <fmt/format.h>

namespace imashim::runtime {
namespace {

// Parses the flag at argv[i]; advances i past its value when it takes one.
Result<ParsedFlag> parse_flag(const std::vector<std::string>& argv, std::size_t& i,
                              std::span<const FlagSpec> specs) {
  std::string_view tok = argv[i];
  tok.remove_prefix(tok.starts_with("--") ? 2 : 1);
  auto eq = tok.find('=');
  std::string_view name = tok.substr(0, eq);
  ParsedFlag out;
  const FlagSpec* spec = find_flag(specs, name);
  out.known = spec != nullptr;
  out.name = spec ? std::string(spec->canonical()) : std::string(name);
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

std::span<const FlagSpec> global_flags() { return runc_model::kGlobal; }
std::span<const CommandSpec> commands() { return runc_model::kCommands; }

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
  std::span<const FlagSpec> specs = cmd.spec ? cmd.spec->flags : std::span<const FlagSpec>();
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
  if (!is_valid_container_id(id))
    return fail(fmt::format("invalid container id \"{}\": expected [A-Za-z0-9_+.-]+", id));
  return {};
}

}  // namespace imashim::runtime
