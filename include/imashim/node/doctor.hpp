// imactl doctor: is this node ready to run containers under imashim in the
// configured mode, and if not, exactly what to change. One table of checks;
// each reads the gathered NodeFacts and returns ok / info / warn / fail with
// the fix (the GRUB_CMDLINE_LINUX line, the kernel config option, the command).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/backends/backend.hpp"
#include "imashim/node/facts.hpp"

namespace imashim::node {

enum class Status { ok, info, warn, fail };
std::string_view status_name(Status status);  // "ok", "info", "warn", "fail"

struct CheckResult {
  std::string id;      // stable, for scripts: "kernel.ima_write_policy"
  std::string title;   // what is checked, for people
  Status status = Status::ok;
  std::string detail;  // what was found
  std::string fix;     // what to do; empty when nothing is to be done
};

// Which backend imashim would use on the node and why.
struct BackendChoice {
  std::optional<backends::Kind> kind;  // nullopt: none can serve the mode
  std::string reason;
};

struct DoctorOptions {
  GatherOptions gather;
  backends::Mode mode = backends::Mode::measure;
  std::optional<backends::Kind> backend;  // the node config's choice; nullopt = auto
};

struct DoctorReport {
  backends::Mode mode = backends::Mode::measure;
  BackendChoice backend;
  std::string boot_line;            // the recommended GRUB_CMDLINE_LINUX value
  std::vector<CheckResult> checks;
  // No check failed: the node can run containers in `mode`.
  bool ready() const;
  nlohmann::json to_json() const;
  std::string to_text() const;
};

// Chooses the backend as imashim would (ns-mount → ns-user → host → fanotify
// for auto), or checks that the configured one is usable.
BackendChoice choose_backend(const NodeFacts& facts, const DoctorOptions& options);

// What the boot line must give the kernel.
struct BootNeeds {
  std::string ima_policy = "tcb";  // the built-in policy to boot with ("tcb|appraise_tcb")
  bool appraise = false;           // appraise rules: ima_appraise=<appraise_mode>
  std::string appraise_mode = "fix";  // fix while labelling, then enforce; or log
};
BootNeeds boot_needs(backends::Mode mode);

// The GRUB_CMDLINE_LINUX value to use on this node: the current one with the
// ima_* parameters (and rootflags=i_version, lsm=...integrity where needed) set.
std::string recommended_boot_line(const NodeFacts& facts, const BootNeeds& needs);

// Runs every check of the table on already gathered facts.
DoctorReport run_doctor(const NodeFacts& facts, const DoctorOptions& options);
// Gathers the facts under options.gather.root, then runs the checks.
DoctorReport run_doctor(const DoctorOptions& options);

}  // namespace imashim::node
