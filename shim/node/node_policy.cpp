#include "imashim/node/node_policy.hpp"

#include <algorithm>
#include <array>
#include <set>

#include <fmt/format.h>

#include "imashim/node/doctor.hpp"
#include "imashim/policy/builtin.hpp"

namespace imashim::node {
namespace {

bool is_builtin(std::string_view name) { return name == "tcb" || name == "appraise_tcb"; }

Result<void> known(std::string_view profile) {
  for (std::string_view p : kNodeProfiles)
    if (p == profile) return {};
  return fail(fmt::format("unknown profile `{}` (cis-ubuntu-20.04, k8s-worker, tcb, appraise_tcb)", profile));
}

struct Resolved {
  policy::Policy policy;
  std::string title;
  std::vector<std::string> watched;
};

Result<Resolved> resolve(std::string_view profile) {
  IMASHIM_TRY_VOID(known(profile));
  if (is_builtin(profile)) {
    IMASHIM_TRY(policy::Policy p, policy::builtin_policy(profile));
    return Resolved{std::move(p), fmt::format("the kernel's built-in ima_policy={}", profile), {}};
  }
  IMASHIM_TRY(policy::Profile p, policy::profile(profile));
  Resolved r{std::move(p.policy), p.title, {}};
  for (const auto& w : p.watched) r.watched.push_back(w.path);
  return r;
}

bool has_appraise(const policy::Policy& p) {
  return std::any_of(p.rules.begin(), p.rules.end(),
                     [](const policy::Rule& r) { return r.action == policy::Action::appraise; });
}

// Filesystems that hold installed files and keep security.* xattrs, by the
// magic number the policy's fsmagic= names (include/uapi/linux/magic.h).
struct LabelFs {
  std::string_view fstype;
  std::uint64_t magic;
};
constexpr std::array<LabelFs, 6> kLabelFs = {{{"ext2", 0xEF53},
                                             {"ext3", 0xEF53},
                                             {"ext4", 0xEF53},
                                             {"xfs", 0x58465342},
                                             {"btrfs", 0x9123683E},
                                             {"f2fs", 0xF2F52010}}};

// The rule that keeps the profile from appraising files of `magic` (an
// unconditional dont_appraise fsmagic= rule before any appraise rule).
const policy::Rule* skip_rule(const policy::Policy& p, std::uint64_t magic) {
  for (const policy::Rule& r : p.rules) {
    if (r.action == policy::Action::appraise) return nullptr;
    if (r.action == policy::Action::dont_appraise && r.fsmagic == magic && !r.func && !r.fsuuid && !r.fowner &&
        !r.uid)
      return &r;
  }
  return nullptr;
}

LabelTarget decide(const Mount& m, const policy::Policy& p) {
  LabelTarget t{m, false, ""};
  if (is_pseudo_fstype(m.fstype)) {
    t.reason = "pseudo filesystem: no stored files";
  } else if (m.fstype == "overlay") {
    t.reason = "overlay: container image layers are labelled by ima-runc, once per layer";
  } else if (m.has_option("ro")) {
    t.reason = "read-only";
  } else if (auto it = std::find_if(kLabelFs.begin(), kLabelFs.end(), [&](const LabelFs& f) { return f.fstype == m.fstype; });
             it == kLabelFs.end()) {
    t.reason = fmt::format("{}: not a filesystem IMA appraises by label (no security.ima)", m.fstype);
  } else if (const policy::Rule* r = skip_rule(p, it->magic)) {
    t.reason = "the profile does not appraise it: " + policy::to_string(*r);
  } else {
    t.label = true;
    t.reason = "holds installed files the profile appraises";
  }
  return t;
}

}  // namespace

Result<std::vector<std::string>> watched_files(std::string_view profile) {
  IMASHIM_TRY(Resolved r, resolve(profile));
  return r.watched;
}

Result<NodePolicy> node_policy(std::string_view profile, const NodeFacts& facts, std::string_view policy_file) {
  IMASHIM_TRY(Resolved r, resolve(profile));
  NodePolicy np;
  np.profile = profile;
  np.title = r.title;
  np.builtin = is_builtin(profile);
  np.appraises = has_appraise(r.policy);
  np.text = policy::to_string(r.policy);
  np.watched = r.watched;
  BootNeeds needs{np.builtin ? std::string(profile) : "tcb", np.appraises};
  np.boot_line = recommended_boot_line(facts, needs);
  std::string grub = fmt::format("set GRUB_CMDLINE_LINUX=\"{}\" in /etc/default/grub and run update-grub", np.boot_line);
  if (np.builtin) {
    np.steps.push_back(grub + " (ima_policy=" + std::string(profile) + " loads the built-in policy at boot)");
  } else {
    np.steps.push_back(fmt::format("install the policy as {} (systemd loads it into the kernel at boot, replacing "
                                   "the ima_policy=tcb boot policy; without CONFIG_IMA_WRITE_POLICY only one "
                                   "policy can be loaded per boot)", policy_file));
    np.steps.push_back(grub);
  }
  if (np.appraises) {
    np.steps.push_back("reboot, then label the filesystems: imactl node label --profile " + std::string(profile));
    np.steps.push_back("replace ima_appraise=fix with ima_appraise=enforce on the boot line, update-grub, reboot");
  } else {
    np.steps.push_back("reboot; check with imactl doctor");
  }
  return np;
}

Result<std::vector<LabelTarget>> plan_node_label(std::string_view profile, const NodeFacts& facts) {
  IMASHIM_TRY(Resolved r, resolve(profile));
  if (facts.mounts.empty())
    return fail(fmt::format("no mounts to label: cannot read {}", facts.root("/proc/self/mounts").string()));
  std::vector<LabelTarget> out;
  std::set<std::string> seen;  // one filesystem, many mounts (bind mounts): label it once
  for (const Mount& m : facts.mounts) {
    LabelTarget t = decide(m, r.policy);
    if (t.label && !has_appraise(r.policy)) {
      t.label = false;
      t.reason = "the profile measures only: nothing is appraised, no labels are needed";
    }
    if (t.label && !seen.insert(m.source).second) {
      t.label = false;
      t.reason = "the same filesystem is labelled at its first mount point";
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace imashim::node
