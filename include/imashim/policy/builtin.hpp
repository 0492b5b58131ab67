// Named policies: the kernel's built-in ones (ima_policy=tcb|appraise_tcb|...)
// exactly as ima_init_policy() builds them, and imashim's profiles, each a
// policy plus the files it watches (for drift reports).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/policy/policy.hpp"
#include "imashim/util/result.hpp"

namespace imashim::policy {

// Filesystem magic numbers (include/uapi/linux/magic.h) the policies name.
struct PseudoFs {
  std::string_view name;   // "proc", "sysfs", ...
  std::string_view macro;  // "PROC_SUPER_MAGIC"
  std::uint64_t magic;
};
// Filesystems whose files have no stored content to measure or appraise.
const std::vector<PseudoFs>& pseudo_filesystems();
inline constexpr std::uint64_t kTmpfsMagic = 0x01021994;
inline constexpr std::uint64_t kRamfsMagic = 0x858458f6;
inline constexpr std::uint64_t kOverlayfsMagic = 0x794c7630;

// Kernel build options that change the built-in policies. The defaults are
// those of Debian 12's kernel (no IMA_WRITE_POLICY, no APPRAISE_SIGNED_INIT,
// no IMA_APPRAISE_REQUIRE_*_SIGS).
struct BuildOptions {
  bool write_policy = false;          // CONFIG_IMA_WRITE_POLICY
  bool appraise_signed_init = false;  // CONFIG_IMA_APPRAISE_SIGNED_INIT
};

// Built-in policies by their ima_policy= name: tcb, appraise_tcb, secure_boot,
// critical_data, fail_securely, and original_tcb (the `ima_tcb` boot option).
// "tcb|appraise_tcb" combines them in the order the kernel adds them.
Result<Policy> builtin_policy(std::string_view names, const BuildOptions& options = {});
const std::vector<std::string_view>& builtin_names();

// A file a profile watches, and the recommendation that asks for it.
struct WatchedFile {
  std::string path;
  std::string recommendation;
};

struct Profile {
  std::string name;
  std::string title;  // one line: what the profile implements
  Policy policy;      // every rule carries a comment naming its recommendation
  std::vector<WatchedFile> watched;
};

// imashim's profiles: cis-ubuntu-20.04, k8s-worker.
Result<Profile> profile(std::string_view name);
const std::vector<std::string_view>& profile_names();

// A built-in (or `|` combination) or a profile, by name. Errors list the names.
Result<Policy> named_policy(std::string_view name);

}  // namespace imashim::policy
