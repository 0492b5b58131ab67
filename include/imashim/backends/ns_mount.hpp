// ns-mount: the 2017 IMA mount-namespace draft (CONFIG_IMA_PER_NAMESPACE), as
// used by linuxkit's ima-namespace project. Not in any mainline kernel: tested
// against a fake securityfs tree that behaves as the patch set describes.
//
//   ima/namespaces          write-only; write a mount namespace's inode number in
//                           decimal to register it (ENOENT: no process lives in
//                           that namespace; EBUSY: another securityfs writer holds
//                           the shared busy bit)
//   ima/<nsid>/policy       appears after registration; one rule per write();
//                           write-once: it cannot be opened again after a load
//   ascii/binary logs       one global log; templates carry nid (mnt-ns=N),
//                           fi (inode=N) and dev (dev=S) before d-ng|n-ng, so a
//                           container's log is the global log split by its nid
//   ima_appraise=enforce_ns the boot parameter that makes namespace policies enforce
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "imashim/backends/backend.hpp"
#include "imashim/backends/kernel.hpp"
#include "imashim/util/bytes.hpp"

namespace imashim::backends {

struct NsMountOptions {
  std::filesystem::path securityfs = "/sys/kernel/security";
  std::filesystem::path proc = "/proc";
  // Serializes imashim's own writers of ima/namespaces on this node.
  std::filesystem::path lock_file = "/run/imashim/ns-mount.lock";
  int busy_attempts = 50;  // EBUSY retries, busy_delay_ms apart
  int busy_delay_ms = 20;
  int policy_wait_ms = 2000;  // how long ima/<nsid>/policy may take to appear
  std::shared_ptr<kernel::SysFiles> files = kernel::real_sys_files();
};

class NsMountBackend final : public Backend {
 public:
  explicit NsMountBackend(NsMountOptions options = {});
  Kind kind() const override { return Kind::ns_mount; }
  Capabilities capabilities() const override;
  Result<Attachment> attach(const AttachRequest& request) override;
  Result<void> detach(const Attachment& attachment, const AttachRequest& request) override;

 private:
  Result<void> register_namespace(const std::string& nsid);
  NsMountOptions o_;
};

// The mount namespace id of a process: the inode number of /proc/<pid>/ns/mnt.
Result<std::string> mount_namespace_id(const std::filesystem::path& proc, pid_t pid);

// The entries of an ascii log whose nid field is `mnt-ns=<nsid>`, unchanged.
std::string split_ascii_log(std::string_view ascii, std::string_view nsid);
// The entries of a binary log whose template data starts with the nid field of
// `nsid` (its data: the text "mnt-ns=N" or "N", or N as a little-endian u32/u64).
// Every length is checked against the buffer; a truncated log is an error.
Result<Bytes> split_binary_log(ByteView binary, std::string_view nsid);

}  // namespace imashim::backends
