// The host's own IMA setup, as the CIS guide does it by hand: the policy of a
// profile (a kernel built-in or one of imashim's CIS profiles), the boot line
// to use with it, and which filesystems to label for it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/node/facts.hpp"
#include "imashim/util/result.hpp"

namespace imashim::node {

// The profiles `imactl node policy` knows.
inline constexpr std::string_view kNodeProfiles[] = {"cis-ubuntu-20.04", "k8s-worker", "tcb", "appraise_tcb"};

struct NodePolicy {
  std::string profile;
  std::string title;
  std::string text;        // the policy, kernel grammar, one rule a line, comments say why
  bool builtin = false;    // a kernel built-in: ima_policy=<name> loads it, no file needed
  bool appraises = false;  // has appraise rules: label first (ima_appraise=fix), then enforce
  std::string boot_line;   // the GRUB_CMDLINE_LINUX value to use with it
  std::vector<std::string> steps;  // what to do, in order
  std::vector<std::string> watched;  // files the profile watches (trees end in '/')
};

// The policy of `profile` for this node (facts give the current GRUB line and
// the root filesystem's i_version). `policy_file` is where it will be installed.
Result<NodePolicy> node_policy(std::string_view profile, const NodeFacts& facts,
                               std::string_view policy_file = "/etc/ima/ima-policy");

// The files a profile watches, for drift reports; built-ins watch none.
Result<std::vector<std::string>> watched_files(std::string_view profile);

// One mounted filesystem and whether `imactl node label` labels it.
struct LabelTarget {
  Mount mount;
  bool label = false;
  std::string reason;
};
// Every mount of the node, with the decision: pseudo and read-only filesystems,
// filesystems without xattrs, overlays (image layers are labelled by ima-runc)
// and filesystems the profile does not appraise are skipped. A filesystem is
// listed once (its first mount).
Result<std::vector<LabelTarget>> plan_node_label(std::string_view profile, const NodeFacts& facts);

}  // namespace imashim::node
