// imactl anchor [--container ID... | --all] [--event periodic|delete]: anchors
// container logs in the TPM now (the runtime and monitor do it on their own).
#include <iostream>

#include "commands.hpp"
#include "imashim/tpm/anchor.hpp"
#include "tpm_options.hpp"

namespace imashim::imactl {
namespace {

std::vector<std::string> all_containers(const std::filesystem::path& root) {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator(root, ec))
    if (d.is_directory() && !d.path().filename().string().starts_with("@")) ids.push_back(d.path().filename());
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

void add_anchor_command(CLI::App& app, Action& action) {
  struct Opts {
    std::vector<std::string> containers;
    bool all = false;
    std::string event = "periodic";
    TpmCliOptions tpm;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("anchor", "Anchor container measurement logs in the TPM now");
  auto* one = cmd->add_option("--container", opts->containers, "Container whose log to anchor (repeatable)");
  cmd->add_flag("--all", opts->all, "Every container under the log root")->excludes(one);
  cmd->add_option("--event", opts->event, "Recorded reason: periodic (more may follow) or delete (final)")
      ->check(CLI::IsMember({"periodic", "delete"}));
  add_tpm_options(cmd, opts->tpm);
  cmd->callback([opts, &action] {
    action = [opts] {
      auto resolved = resolve_tpm_options(opts->tpm);
      if (!resolved) return report_error("anchor: " + resolved.error().message());
      auto config = resolved->config;
      config.on_failure = tpm::OnFailure::require;  // an operator wants the error, not a marker
      auto ids = opts->all ? all_containers(resolved->log_root) : opts->containers;
      if (ids.empty()) return report_error("anchor: no containers (give --container ID or --all)");
      auto event = opts->event == "delete" ? tpm::AnchorEvent::delete_ : tpm::AnchorEvent::periodic;
      for (const auto& id : ids) {
        std::error_code ec;
        if (!std::filesystem::is_directory(resolved->log_root / id, ec))
          return report_error("anchor: no log directory for container " + id + " under " + resolved->log_root.string());
        auto r = tpm::anchor_container_log(config, id, resolved->log_root / id, event);
        if (!r) return report_error("anchor: " + r.error().message());
        std::cout << id << ": " << (*r)->entries << " entries anchored in PCR " << config.pcr << " (anchor #"
                  << (*r)->index << ")\n";
      }
      return kExitOk;
    };
  });
}

}  // namespace imashim::imactl
