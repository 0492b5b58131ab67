// The periodic TPM anchoring of a running container (docs/tpm.md): the start
// and final anchors are in lifecycle.cpp. Both calls do nothing when the node
// config has no "tpm" section.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "imashim/runtime/config.hpp"

namespace imashim::runtime {

// After attach: the process that anchors the growing log every N entries or T
// seconds; its pid goes to <state_dir>/anchor.pid. Failing to start it is not
// fatal: the anchor at delete still covers the whole log.
void start_periodic_anchoring(const NodeConfig& node, const std::string& id, const std::filesystem::path& log_dir,
                              const std::filesystem::path& state_dir, pid_t init_pid);
// Before the final anchor: stops that process (if it still runs).
void stop_periodic_anchoring(const std::filesystem::path& state_dir);

}  // namespace imashim::runtime
