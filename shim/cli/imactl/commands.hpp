// imactl subcommands: each file adds one subcommand to the app and, when it is
// chosen, sets the action main() runs. Actions return the process exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace imashim::imactl {

using Action = std::function<int()>;

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the check ran and failed (mismatch, drift, not ready)
inline constexpr int kExitError = 2;   // bad input or an error that stopped the command

// One per subcommand file; the table in main.cpp lists them.
void add_log_command(CLI::App& app, Action& action);
void add_policy_command(CLI::App& app, Action& action);
// `policy export` (cmd_policy_export.cpp), added by add_policy_command.
void add_policy_export_subcommand(CLI::App* policy, Action& action);
void add_xattr_command(CLI::App& app, Action& action);
void add_kernel_command(CLI::App& app, Action& action);
void add_doctor_command(CLI::App& app, Action& action);
void add_events_command(CLI::App& app, Action& action);
void add_baseline_command(CLI::App& app, Action& action);
void add_drift_command(CLI::App& app, Action& action);
void add_node_command(CLI::App& app, Action& action);
void add_label_command(CLI::App& app, Action& action);
void add_attest_command(CLI::App& app, Action& action);
void add_verify_command(CLI::App& app, Action& action);
void add_anchor_command(CLI::App& app, Action& action);
void add_image_command(CLI::App& app, Action& action);
void add_engine_command(CLI::App& app, Action& action);

// Prints "imactl: <message>" to stderr and returns kExitError.
int report_error(const std::string& message);

}  // namespace imashim::imactl
