// ima-oci-hook: the IMA steps of ima-runc as an OCI hook, for engines that
// keep their own runtime. Stage createRuntime prepares and attaches (the
// container's init exists and has not run image code); stage poststop
// finalizes. The stage is argv[1]; without it, the state's "status" decides
// ("creating"/"created" → createRuntime, "stopped" → poststop).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "imashim/runtime/lifecycle.hpp"

namespace imashim::runtime {

enum class HookStage { create_runtime, poststop };

// The OCI state a hook receives on stdin.
struct HookState {
  std::string id;
  std::string status;
  pid_t pid = -1;
  std::string bundle;
};
Result<HookState> parse_hook_state(std::string_view json_text);
Result<HookStage> hook_stage(const std::vector<std::string>& argv, const HookState& state);

// The whole hook: returns the exit code (0 ok; 1 error, reported on stderr,
// which the engine shows and which makes it fail the container's creation).
int oci_hook_main(const std::vector<std::string>& argv, std::string_view stdin_text, const Pipeline& pipeline);

}  // namespace imashim::runtime
