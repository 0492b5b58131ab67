// imactl doctor [--json] [--root DIR] [--mode M] [--backend B]: is this node
// ready for imashim in the configured mode (the node config's unless given),
// and what to fix.
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "imashim/node/doctor.hpp"
#include "imashim/os/file.hpp"
#include "imashim/runtime/config.hpp"

namespace imashim::imactl {
namespace {

// The node config: <root>/etc/imashim/config.json under a fixture root (the
// defaults if it has none), the usual one on the real root.
Result<runtime::NodeConfig> node_config_under(const std::filesystem::path& root) {
  if (root == "/") return runtime::load_node_config();
  std::filesystem::path file = root / "etc/imashim/config.json";
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return runtime::NodeConfig{};
  IMASHIM_TRY(std::string text, os::read_file(file));
  return runtime::parse_node_config(text, file.string());
}

}  // namespace

void add_doctor_command(CLI::App& app, Action& action) {
  struct Opts {
    bool json = false;
    std::string root = "/";
    std::string mode;     // empty: the node config's
    std::string backend;  // empty: the node config's
    std::string runc;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("doctor", "Check that this node is ready for imashim and say how to fix it");
  cmd->add_flag("--json", opts->json, "Print the report as JSON");
  cmd->add_option("--root", opts->root, "Read /proc, /sys, /boot and /etc under DIR (a fixture tree)");
  cmd->add_option("--mode", opts->mode, "Mode to check readiness for (default: the node config's mode)")
      ->check(CLI::IsMember({"off", "measure", "log", "enforce"}));
  cmd->add_option("--backend", opts->backend, "Backend: auto, ns-mount, ns-user, host, fanotify (default: the node config's)")
      ->check(CLI::IsMember({"auto", "ns-mount", "ns-user", "host", "fanotify"}));
  cmd->add_option("--runc", opts->runc, "runc path (default: searched in the usual bin directories)");
  cmd->callback([opts, &action] {
    action = [opts] {
      node::DoctorOptions o;
      o.gather.root = opts->root;
      std::error_code ec;
      if (!std::filesystem::is_directory(o.gather.root, ec))
        return report_error("doctor: --root `" + opts->root + "` is not a directory");
      auto config = node_config_under(opts->root);
      if (!config) return report_error("doctor: " + config.error().message());
      if (!config->runc_path.empty()) o.gather.runc = config->runc_path;
      if (!opts->runc.empty()) o.gather.runc = opts->runc;
      o.mode = opts->mode.empty() ? config->mode : *backends::mode_from_name(opts->mode);
      if (!opts->backend.empty()) {
        if (opts->backend != "auto") o.backend = backends::kind_from_name(opts->backend);
      } else if (config->backend == runtime::BackendChoice::off) {
        o.mode = backends::Mode::off;
      } else {
        o.backend = runtime::backend_kind(config->backend);
      }
      node::DoctorReport report = node::run_doctor(o);
      if (opts->json) std::cout << report.to_json().dump(2) << "\n";
      else std::cout << report.to_text();
      return report.ready() ? kExitOk : kExitFailed;
    };
  });
}

}  // namespace imashim::imactl
