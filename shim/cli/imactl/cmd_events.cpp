// imactl events [ID] [--audit-log FILE] [--json]: file integrity events per
// container, from the monitor's events.jsonl and the kernel's audit records.
#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "imashim/node/events.hpp"
#include "imashim/runtime/config.hpp"

namespace imashim::imactl {

void add_events_command(CLI::App& app, Action& action) {
  struct Opts {
    std::string container;
    std::string audit_log = "/var/log/audit/audit.log";
    bool no_audit = false;
    bool json = false;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("events", "Show file integrity events of containers and the kernel's integrity audit records");
  cmd->add_option("id", opts->container, "Only this container's events");
  cmd->add_option("--audit-log", opts->audit_log, "Audit log to read kernel records from (default /var/log/audit/audit.log)");
  cmd->add_flag("--no-audit", opts->no_audit, "Read only the monitor's events");
  cmd->add_flag("--json", opts->json, "One JSON object per event");
  cmd->callback([opts, &action] {
    action = [opts] {
      auto node = runtime::load_node_config();
      if (!node) return report_error(node.error().message());
      node::EventQuery q;
      q.log_root = node->log_root;
      q.state_root = node->state_root;
      if (!opts->no_audit) q.audit_log = opts->audit_log;
      q.container = opts->container;
      auto list = node::read_events(q);
      if (!list) return report_error("events: " + list.error().message());
      for (const std::string& w : list->warnings) std::cerr << "imactl: events: " << w << "\n";
      for (const node::IntegrityEvent& e : list->events) {
        if (opts->json) {
          std::cout << e.to_json().dump() << "\n";
          continue;
        }
        std::cout << fmt::format("{} {:<12} {:<22} {} {}{}{}\n", e.time, e.container.empty() ? "-" : e.container,
                                 e.type, e.op, e.path, e.cause.empty() ? "" : " cause=" + e.cause,
                                 e.result.empty() ? "" : " result=" + e.result);
      }
      return kExitOk;
    };
  });
}

}  // namespace imashim::imactl
