#include "anchoring.hpp"

#include <fstream>

#include "imashim/tpm/periodic.hpp"

namespace imashim::runtime {
namespace fs = std::filesystem;

namespace {
constexpr const char* kAnchorPidFile = "anchor.pid";
}  // namespace

void start_periodic_anchoring(const NodeConfig& node, const std::string& id, const fs::path& log_dir,
                              const fs::path& state_dir, pid_t init_pid) {
  if (!node.tpm || (node.tpm->anchor_every_events == 0 && node.tpm->anchor_every_seconds == 0)) return;
  auto on_failure = node.tpm->on_failure == TpmOnFailure::require ? tpm::OnFailure::require : tpm::OnFailure::prefer;
  tpm::PeriodicOptions o;
  o.config = tpm::make_anchor_config(node.tpm->tcti, node.tpm->pcr, on_failure, node.log_root);
  o.container_id = id;
  o.log_dir = log_dir;
  o.every_events = node.tpm->anchor_every_events;
  o.every_seconds = node.tpm->anchor_every_seconds;
  o.init_pid = init_pid;
  auto pid = tpm::spawn_periodic_anchor(o);
  if (!pid) return;
  std::ofstream(state_dir / kAnchorPidFile) << *pid << "\n";
}

void stop_periodic_anchoring(const fs::path& state_dir) {
  pid_t pid = -1;
  std::ifstream(state_dir / kAnchorPidFile) >> pid;
  (void)tpm::stop_periodic_anchor(pid);
}

}  // namespace imashim::runtime
