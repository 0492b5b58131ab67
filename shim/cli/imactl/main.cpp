// imactl: the operator tool. Thin: parse, call the library, map errors to exit codes.
#include <iostream>

#include "commands.hpp"

namespace imashim::imactl {

int report_error(const std::string& message) {
  std::cerr << "imactl: " << message << "\n";
  return kExitError;
}

namespace {
using AddCommand = void (*)(CLI::App&, Action&);
constexpr AddCommand kCommands[] = {
    add_log_command,
    add_policy_command,
    add_xattr_command,
    add_kernel_command,
    add_doctor_command,
    add_events_command,
    add_baseline_command,
    add_drift_command,
    add_node_command,
    add_label_command,
    add_attest_command,
    add_verify_command,
    add_anchor_command,
    add_image_command,
    add_engine_command,
};
}  // namespace

}  // namespace imashim::imactl

int main(int argc, char** argv) {
  using namespace imashim::imactl;
  CLI::App app{"imactl: per-container IMA for OCI containers, the operator tool"};
  app.set_version_flag("--version", std::string("imactl ") + IMASHIM_VERSION);
  app.require_subcommand(1);
  Action action;
  for (AddCommand add : kCommands) add(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitError;
  }
  return action ? action() : kExitError;
}
