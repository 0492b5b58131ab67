// host: mainline IMA. The kernel has one policy and one log for the whole
// node, so a container gets no policy of its own: the host policy (installed
// once per boot at node setup) decides, and the labels imashim writes make the
// host's appraisal pass for image files. The container's log is the slice of
// the host log written while it was attached — every process's entries, since
// mainline entries carry no namespace.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "imashim/backends/backend.hpp"
#include "imashim/backends/kernel.hpp"

namespace imashim::backends {

struct HostOptions {
  std::filesystem::path securityfs = "/sys/kernel/security";
  std::filesystem::path proc = "/proc";
  std::shared_ptr<kernel::SysFiles> files = kernel::real_sys_files();
};

class HostBackend final : public Backend {
 public:
  explicit HostBackend(HostOptions options = {});
  Kind kind() const override { return Kind::host; }
  Capabilities capabilities() const override;
  Result<Attachment> attach(const AttachRequest& request) override;
  Result<void> detach(const Attachment& attachment, const AttachRequest& request) override;

 private:
  HostOptions o_;
};

// Node setup: loads the host policy (one rule per write). Most kernels take one
// policy per boot (the policy file disappears after a load): a second call fails
// with an error that says so.
Result<void> install_node_policy(const HostOptions& options, std::string_view policy_text);

}  // namespace imashim::backends
