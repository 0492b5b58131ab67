// imactl engine show|setup: which container engines run containers under
// ima-runc, and registering it in their config files.
#include <unistd.h>

#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "imashim/node/engine_setup.hpp"
#include "imashim/node/engines.hpp"

namespace imashim::imactl {
namespace {

struct SetupOpts {
  std::string engine;
  std::string config;
  std::string runtime_name = "ima-runc";
  std::string binary;
  bool make_default = false;
  bool force = false;
  bool dry_run = false;
};

// ima-runc beside this imactl (an installed tree keeps them together), else
// the documented install path.
std::string default_binary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside = self.parent_path() / "ima-runc";
    if (::access(beside.c_str(), X_OK) == 0) return beside.string();
  }
  return "/usr/local/bin/ima-runc";
}

int run_setup(const SetupOpts& o) {
  auto engine = node::engine_from_name(o.engine);
  if (!engine) return report_error(fmt::format("engine setup: unknown engine `{}` (containerd, docker, podman)", o.engine));
  node::EngineSetup setup;
  setup.engine = *engine;
  setup.runtime_name = o.runtime_name;
  setup.binary = o.binary.empty() ? default_binary() : o.binary;
  setup.make_default = o.make_default;
  setup.force = o.force;
  std::filesystem::path file = o.config.empty() ? node::default_engine_config(*engine) : std::filesystem::path(o.config);
  auto edit = node::setup_engine(setup, file, o.dry_run);
  if (!edit) return report_error("engine setup: " + edit.error().message());
  if (!edit->changed) {
    std::cout << fmt::format("{}: already set up ({} runs {})\n", file.string(), setup.runtime_name, setup.binary);
    return kExitOk;
  }
  if (o.dry_run) {
    std::cout << fmt::format("# {} would become (--dry-run: nothing written):\n{}", file.string(), edit->text);
    return kExitOk;
  }
  std::cout << fmt::format("{}:\n", file.string());
  for (const auto& c : edit->changes) std::cout << "  " << c << "\n";
  for (const auto& n : edit->notes) std::cout << "note: " << n << "\n";
  return kExitOk;
}

int run_show(const std::string& root) {
  for (const node::EngineConfig& e : node::read_engine_configs(root)) {
    std::string state;
    if (!e.error.empty()) state = "error: " + e.error;
    else if (!e.present) state = "not present";
    else if (e.ima_runtimes.empty()) state = "no runtime runs ima-runc";
    else state = fmt::format("ima-runc as runtime {}{}", fmt::join(e.ima_runtimes, ", "), e.ima_default ? " (default)" : "");
    std::cout << fmt::format("{:<11} {:<52} {}\n", e.engine, e.file.string(), state);
  }
  return kExitOk;
}

}  // namespace

void add_engine_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("engine", "Container engines: which run ima-runc, and registering it");
  cmd->require_subcommand(1);

  auto root = std::make_shared<std::string>("/");
  auto* show = cmd->add_subcommand("show", "Each engine config file and the ima-runc runtimes it names");
  show->add_option("--root", *root, "Read the node's files under this directory")->capture_default_str();
  show->callback([root, &action] { action = [root] { return run_show(*root); }; });

  auto o = std::make_shared<SetupOpts>();
  auto* setup = cmd->add_subcommand(
      "setup", "Register ima-runc as a runtime in an engine's config file (idempotent; the rest of the file is kept)");
  setup->add_option("engine", o->engine, "containerd, docker or podman")->required();
  setup->add_option("--config", o->config,
                    "The file to edit (default: /etc/containerd/config.toml, /etc/docker/daemon.json, "
                    "/etc/containers/containers.conf.d/50-imashim.conf)");
  setup->add_option("--runtime-name", o->runtime_name, "The runtime's name in the engine")->capture_default_str();
  setup->add_option("--binary", o->binary, "Absolute path of ima-runc (default: the one beside imactl)");
  setup->add_flag("--default", o->make_default, "Make it the engine's default runtime");
  setup->add_flag("--force", o->force, "Replace a runtime of that name that runs another binary");
  setup->add_flag("--dry-run", o->dry_run, "Print the file as it would be; write nothing");
  setup->callback([o, &action] { action = [o] { return run_setup(*o); }; });
}

}  // namespace imashim::imactl
