// What imactl doctor knows about a node, gathered once from paths under a
// root directory (/ on a real node; a fixture tree in tests): /proc, /sys,
// /boot and /etc are read there, nothing is written.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "imashim/node/cmdline.hpp"
#include "imashim/node/engines.hpp"
#include "imashim/node/kconfig.hpp"
#include "imashim/util/result.hpp"

namespace imashim::node {

// Maps the node's absolute paths into a root directory.
class NodeRoot {
 public:
  explicit NodeRoot(std::filesystem::path root = "/") : root_(std::move(root)) {}
  const std::filesystem::path& root() const { return root_; }
  bool is_host() const { return root_ == "/"; }
  // "/proc/cmdline" → <root>/proc/cmdline.
  std::filesystem::path operator()(const std::filesystem::path& absolute) const;

 private:
  std::filesystem::path root_;
};

// One line of /proc/self/mounts (octal escapes decoded).
struct Mount {
  std::string source;
  std::string target;
  std::string fstype;
  std::vector<std::string> options;
  bool has_option(std::string_view opt) const;
};
std::vector<Mount> parse_mounts(std::string_view text);

// Filesystem types that never hold files IMA measures: the kernel's default
// policies skip them by fsmagic (proc, sysfs, debugfs, tmpfs, ramfs, devpts,
// securityfs, selinuxfs, smackfs, cgroup, cgroup2, nsfs, binfmt_misc, efivarfs,
// bpf, tracefs) plus other virtual ones.
bool is_pseudo_fstype(std::string_view fstype);

// An observation with the file it came from (or why it is missing).
template <typename T>
struct Observed {
  std::optional<T> value;
  std::string source;  // the path read, or what was tried
  std::string error;   // why value is missing
};

struct TpmFacts {
  bool present = false;               // <sys>/class/tpm/tpm0
  std::string version_major;          // "2" for TPM 2.0 (tpm_version_major)
  std::optional<std::string> pcr10_sha256;  // hex, from pcr-sha256/10 (kernel >= 5.12)
  std::optional<std::string> pcr10_sha1;
};

struct NodeFacts {
  NodeRoot root;
  std::string kernel_release;
  KernelVersion kernel_version;
  Observed<KernelConfig> kconfig;
  Observed<BootCmdline> cmdline;
  Observed<BootCmdline> grub_cmdline;  // GRUB_CMDLINE_LINUX of <etc>/default/grub
  std::vector<Mount> mounts;
  std::vector<std::string> filesystems;  // <proc>/filesystems
  std::optional<std::string> securityfs;  // where securityfs is mounted
  bool ima_dir = false;                   // <securityfs>/ima exists
  bool ima_namespaces = false;            // ima/namespaces (2017 mount-namespace draft)
  bool ima_active = false;                // ima/active (2021-23 user-namespace series)
  std::filesystem::path ima_log;          // <securityfs>/ima/binary_runtime_measurements
  std::optional<std::string> ima_policy_text;  // ima/policy when readable
  TpmFacts tpm;
  std::vector<int> auditd_pids;
  std::optional<bool> fanotify_probe;     // host only: fanotify_init(FAN_CLASS_CONTENT) worked
  std::optional<std::filesystem::path> runc;
  std::vector<EngineConfig> engines;

  bool kconfig_enabled(std::string_view option) const {
    return kconfig.value && kconfig.value->enabled(option);
  }
  std::optional<std::string> kconfig_value(std::string_view option) const {
    return kconfig.value ? kconfig.value->value(option) : std::nullopt;
  }
  // The boot parameter, when the command line could be read.
  std::optional<std::string> boot_param(std::string_view key) const {
    return cmdline.value ? cmdline.value->get(key) : std::nullopt;
  }
  bool has_filesystem(std::string_view fstype) const;
};

struct GatherOptions {
  std::filesystem::path root = "/";
  std::optional<std::filesystem::path> runc;  // the node config's runc path, if any
};

// Reads everything; missing files are recorded in the facts, never errors.
NodeFacts gather_facts(const GatherOptions& options);

}  // namespace imashim::node
