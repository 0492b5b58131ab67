// imactl log show|replay — filled in by the formats module.
#include "commands.hpp"

namespace imashim::imactl {

void add_log_command(CLI::App& app, Action& action) {
  auto* log = app.add_subcommand("log", "Read and verify IMA measurement logs");
  log->require_subcommand(1);
  (void)action;
}

}  // namespace imashim::imactl
