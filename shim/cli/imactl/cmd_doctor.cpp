// imactl doctor [--json] [--root DIR] [--mode M] [--backend B]: is this node
// ready for imashim in the configured mode, and what to fix.
#include <iostream>

#include "commands.hpp"
#include "imashim/node/doctor.hpp"

namespace imashim::imactl {

void add_doctor_command(CLI::App& app, Action& action) {
  struct Opts {
    bool json = false;
    std::string root = "/";
    std::string mode = "measure";
    std::string backend = "auto";
    std::string runc;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("doctor", "Check that this node is ready for imashim and say how to fix it");
  cmd->add_flag("--json", opts->json, "Print the report as JSON");
  cmd->add_option("--root", opts->root, "Read /proc, /sys, /boot and /etc under DIR (a fixture tree)");
  cmd->add_option("--mode", opts->mode, "Mode to check readiness for: measure, log, enforce")
      ->check(CLI::IsMember({"off", "measure", "log", "enforce"}));
  cmd->add_option("--backend", opts->backend, "Backend: auto, ns-mount, ns-user, host, fanotify")
      ->check(CLI::IsMember({"auto", "ns-mount", "ns-user", "host", "fanotify"}));
  cmd->add_option("--runc", opts->runc, "runc path (default: searched in the usual bin directories)");
  cmd->callback([opts, &action] {
    action = [opts] {
      node::DoctorOptions o;
      o.gather.root = opts->root;
      if (!opts->runc.empty()) o.gather.runc = opts->runc;
      o.mode = *backends::mode_from_name(opts->mode);
      if (opts->backend != "auto") o.backend = backends::kind_from_name(opts->backend);
      std::error_code ec;
      if (!std::filesystem::is_directory(o.gather.root, ec))
        return report_error("doctor: --root `" + opts->root + "` is not a directory");
      node::DoctorReport report = node::run_doctor(o);
      if (opts->json) std::cout << report.to_json().dump(2) << "\n";
      else std::cout << report.to_text();
      return report.ready() ? kExitOk : kExitFailed;
    };
  });
}

}  // namespace imashim::imactl
