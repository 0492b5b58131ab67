// ns-user: the 2021–23 IMA user-namespace series (securityfs mountable inside a
// user namespace, ima/active, per-namespace logs). Not in any mainline kernel:
// tested against a fake securityfs tree.
//
// attach() forks a keeper process that enters the container's user and mount
// namespaces, mounts securityfs (a detached mount: nothing appears in the
// container's tree), writes 1 to ima/active and the policy to ima/policy (one
// rule per write), reports back and then waits. The namespace's log lives only
// as long as the namespace, so on detach() the keeper copies the namespace's
// ascii and binary logs into the container's log dir and exits.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>

#include "imashim/backends/backend.hpp"
#include "imashim/backends/kernel.hpp"

namespace imashim::backends {

struct NsUserOptions {
  std::filesystem::path proc = "/proc";
  std::shared_ptr<kernel::SysFiles> files = kernel::real_sys_files();
  // Runs in the keeper: enters the namespaces of `init_pid` and returns the
  // root of a securityfs mount made there. Tests replace it with a fake tree.
  std::function<Result<std::filesystem::path>(pid_t init_pid)> enter_and_mount;
  int stop_timeout_ms = 5000;
};

class NsUserBackend final : public Backend {
 public:
  explicit NsUserBackend(NsUserOptions options = {});
  Kind kind() const override { return Kind::ns_user; }
  Capabilities capabilities() const override;
  Result<Attachment> attach(const AttachRequest& request) override;
  Result<void> detach(const Attachment& attachment, const AttachRequest& request) override;

 private:
  NsUserOptions o_;
};

// The real enter_and_mount: setns() into /proc/<pid>/ns/{user,mnt}, then
// fsopen/fsmount a securityfs; returns /proc/self/fd/<mount fd>.
Result<std::filesystem::path> enter_namespaces_and_mount_securityfs(const std::filesystem::path& proc,
                                                                   pid_t init_pid);

// The keeper's process name (prctl PR_SET_NAME), checked before signalling a pid.
inline constexpr const char* kNsUserKeeperName = "imashim-nsuser";

}  // namespace imashim::backends
