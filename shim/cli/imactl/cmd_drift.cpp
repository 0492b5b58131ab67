// imactl drift --baseline FILE [--log FILE | --container ID]: changed, new and
// missing files since the baseline; exit 1 on drift (for cron and CI).
#include <iostream>

#include "commands.hpp"
#include "imashim/node/baseline.hpp"
#include "imashim/node/node_policy.hpp"
#include "imashim/runtime/config.hpp"

namespace imashim::imactl {

void add_drift_command(CLI::App& app, Action& action) {
  struct Opts {
    std::string baseline;
    std::string log;
    std::string container;
    std::string profile = "k8s-worker";
    std::vector<std::string> watch;
    bool watched_only = false;
    bool json = false;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("drift", "Compare a measurement log with a baseline: changed, new and missing files");
  cmd->add_option("--baseline", opts->baseline, "Baseline file (imactl baseline create)")->required();
  auto* log = cmd->add_option("--log", opts->log, "Binary measurement log (default: the kernel's)");
  cmd->add_option("--container", opts->container, "A container's log under the node config's log_root")->excludes(log);
  cmd->add_option("--profile", opts->profile, "Profile whose watched files are flagged (default k8s-worker; \"none\")");
  cmd->add_option("--watch", opts->watch, "Another file to flag (repeatable)");
  cmd->add_flag("--watched-only", opts->watched_only, "Exit 1 only when a watched file drifted");
  cmd->add_flag("--json", opts->json, "Print the report as JSON");
  cmd->callback([opts, &action] {
    action = [opts] {
      auto node = runtime::load_node_config();
      if (!node) return report_error(node.error().message());
      auto baseline = node::read_baseline(opts->baseline);
      if (!baseline) return report_error("drift: " + baseline.error().message());
      node::LogSource src;
      if (!opts->log.empty()) src.file = opts->log;
      src.container = opts->container;
      auto path = node::log_path(src, node->log_root);
      if (!path) return report_error("drift: " + path.error().message());
      auto files = node::files_of_log_file(*path);
      if (!files) return report_error("drift: " + files.error().message());
      std::vector<std::string> watched = opts->watch;
      if (opts->profile != "none") {
        auto w = node::watched_files(opts->profile);
        if (!w) return report_error("drift: " + w.error().message());
        watched.insert(watched.end(), w->begin(), w->end());
      }
      node::DriftReport r = node::compute_drift(*baseline, *files, watched);
      r.log_source = path->string();
      std::cout << (opts->json ? r.to_json().dump(2) + "\n" : r.to_text());
      bool drifted = opts->watched_only ? r.watched_drifted() : r.drifted();
      return drifted ? kExitFailed : kExitOk;
    };
  });
}

}  // namespace imashim::imactl
