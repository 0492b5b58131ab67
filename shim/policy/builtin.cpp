// The kernel's built-in policies, rule for rule as ima_init_policy() adds them
// (security/integrity/ima/ima_policy.c: dont_measure_rules,
// default_measurement_rules, original_measurement_rules, default_appraise_rules,
// secure_boot_rules, critical_data_rules).
#include "imashim/policy/builtin.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace imashim::policy {
namespace {

// Rules in this file are written as policy text and parsed: a typo fails the
// unit tests, not a node.
Rule make(std::string_view text, std::string comment = {}) {
  auto r = parse_rule(text);
  if (!r.ok()) throw std::logic_error("built-in rule does not parse: " + std::string(text));
  if (!comment.empty()) r->comments.push_back(std::move(comment));
  return std::move(*r);
}

Rule fsmagic_rule(Action action, const PseudoFs& fs) {
  Rule r;
  r.action = action;
  r.fsmagic = fs.magic;
  r.comments.emplace_back(fs.macro);
  return r;
}

const PseudoFs& fs_by_macro(std::string_view macro) {
  const auto& all = pseudo_filesystems();
  return *std::find_if(all.begin(), all.end(), [&](const PseudoFs& f) { return f.macro == macro; });
}

// dont_measure_rules[] and the dont_appraise part of default_appraise_rules[].
constexpr std::string_view kDontMeasureFs[] = {
    "PROC_SUPER_MAGIC",  "SYSFS_MAGIC",        "DEBUGFS_MAGIC",   "TMPFS_MAGIC",
    "DEVPTS_SUPER_MAGIC", "BINFMTFS_MAGIC",    "SECURITYFS_MAGIC", "SELINUX_MAGIC",
    "SMACK_MAGIC",       "CGROUP_SUPER_MAGIC", "CGROUP2_SUPER_MAGIC", "NSFS_MAGIC",
    "EFIVARFS_MAGIC"};
constexpr std::string_view kDontAppraiseFs[] = {
    "PROC_SUPER_MAGIC", "SYSFS_MAGIC",      "DEBUGFS_MAGIC",  "TMPFS_MAGIC",
    "RAMFS_MAGIC",      "DEVPTS_SUPER_MAGIC", "BINFMTFS_MAGIC", "SECURITYFS_MAGIC",
    "SELINUX_MAGIC",    "SMACK_MAGIC",      "NSFS_MAGIC",     "EFIVARFS_MAGIC",
    "CGROUP_SUPER_MAGIC", "CGROUP2_SUPER_MAGIC"};

void add_dont_measure(Policy& p) {
  for (auto m : kDontMeasureFs) p.rules.push_back(fsmagic_rule(Action::dont_measure, fs_by_macro(m)));
}

void add_tcb(Policy& p) {
  p.rules.push_back(make("measure func=MMAP_CHECK mask=MAY_EXEC"));
  p.rules.push_back(make("measure func=BPRM_CHECK mask=MAY_EXEC"));
  p.rules.push_back(make("measure func=FILE_CHECK mask=^MAY_READ euid=0"));
  p.rules.push_back(make("measure func=FILE_CHECK mask=^MAY_READ uid=0"));
  p.rules.push_back(make("measure func=MODULE_CHECK"));
  p.rules.push_back(make("measure func=FIRMWARE_CHECK"));
  p.rules.push_back(make("measure func=POLICY_CHECK"));
}

void add_original_tcb(Policy& p) {
  p.rules.push_back(make("measure func=MMAP_CHECK mask=MAY_EXEC"));
  p.rules.push_back(make("measure func=BPRM_CHECK mask=MAY_EXEC"));
  p.rules.push_back(make("measure func=FILE_CHECK mask=MAY_READ uid=0"));
  p.rules.push_back(make("measure func=MODULE_CHECK"));
  p.rules.push_back(make("measure func=FIRMWARE_CHECK"));
}

void add_secure_boot(Policy& p) {
  for (auto f : {"MODULE_CHECK", "FIRMWARE_CHECK", "KEXEC_KERNEL_CHECK", "POLICY_CHECK"})
    p.rules.push_back(make(fmt::format("appraise func={} appraise_type=imasig", f)));
}

void add_appraise_tcb(Policy& p, const BuildOptions& o) {
  for (auto m : kDontAppraiseFs) p.rules.push_back(fsmagic_rule(Action::dont_appraise, fs_by_macro(m)));
  if (o.write_policy) p.rules.push_back(make("appraise func=POLICY_CHECK appraise_type=imasig"));
  p.rules.push_back(make(o.appraise_signed_init ? "appraise fowner=0 appraise_type=imasig"
                                                : "appraise fowner=0"));
}

void add_critical_data(Policy& p) { p.rules.push_back(make("measure func=CRITICAL_DATA")); }

struct Selection {
  bool tcb = false, original = false, appraise_tcb = false, secure_boot = false,
       critical_data = false, fail_securely = false;
};

}  // namespace

const std::vector<PseudoFs>& pseudo_filesystems() {
  static const std::vector<PseudoFs> all{
      {"proc", "PROC_SUPER_MAGIC", 0x9fa0},
      {"sysfs", "SYSFS_MAGIC", 0x62656572},
      {"debugfs", "DEBUGFS_MAGIC", 0x64626720},
      {"tmpfs", "TMPFS_MAGIC", kTmpfsMagic},
      {"ramfs", "RAMFS_MAGIC", kRamfsMagic},
      {"devpts", "DEVPTS_SUPER_MAGIC", 0x1cd1},
      {"binfmt_misc", "BINFMTFS_MAGIC", 0x42494e4d},
      {"securityfs", "SECURITYFS_MAGIC", 0x73636673},
      {"selinuxfs", "SELINUX_MAGIC", 0xf97cff8c},
      {"smackfs", "SMACK_MAGIC", 0x43415d53},
      {"cgroup", "CGROUP_SUPER_MAGIC", 0x27e0eb},
      {"cgroup2", "CGROUP2_SUPER_MAGIC", 0x63677270},
      {"nsfs", "NSFS_MAGIC", 0x6e736673},
      {"efivarfs", "EFIVARFS_MAGIC", 0xde5e81e4},
      {"tracefs", "TRACEFS_MAGIC", 0x74726163},
      {"bpf", "BPF_FS_MAGIC", 0xcafe4a11},
      {"mqueue", "MQUEUE_MAGIC", 0x19800202},
      {"configfs", "CONFIGFS_MAGIC", 0x62656570},
      {"pstore", "PSTOREFS_MAGIC", 0x6165676c},
  };
  return all;
}

const std::vector<std::string_view>& builtin_names() {
  static const std::vector<std::string_view> names{"tcb",           "original_tcb",  "appraise_tcb",
                                                   "secure_boot",   "critical_data", "fail_securely"};
  return names;
}

Result<Policy> builtin_policy(std::string_view names, const BuildOptions& options) {
  Selection sel;
  std::string_view rest = names;
  while (true) {
    auto pos = rest.find('|');
    auto name = rest.substr(0, pos);
    if (name == "tcb") sel.tcb = !sel.original;
    else if (name == "original_tcb") sel.original = !sel.tcb;
    else if (name == "appraise_tcb") sel.appraise_tcb = true;
    else if (name == "secure_boot") sel.secure_boot = true;
    else if (name == "critical_data") sel.critical_data = true;
    else if (name == "fail_securely") sel.fail_securely = true;
    else
      return fail(fmt::format("unknown built-in policy `{}` (tcb, original_tcb, appraise_tcb, "
                              "secure_boot, critical_data, fail_securely)",
                              name));
    if (pos == std::string_view::npos) break;
    rest.remove_prefix(pos + 1);
  }
  // The order of ima_init_policy().
  Policy p;
  if (sel.tcb || sel.original) add_dont_measure(p);
  if (sel.tcb) add_tcb(p);
  if (sel.original) add_original_tcb(p);
  if (sel.secure_boot) add_secure_boot(p);
  if (sel.appraise_tcb) add_appraise_tcb(p, options);
  if (sel.critical_data) add_critical_data(p);
  p.fail_unverifiable_sigs = sel.fail_securely;
  return p;
}

Result<Policy> named_policy(std::string_view name) {
  if (auto prof = profile(name); prof.ok()) return std::move(prof->policy);
  auto b = builtin_policy(name);
  if (b.ok()) return b;
  std::string all;
  for (auto n : builtin_names()) all += fmt::format("{}, ", n);
  for (auto n : profile_names()) all += fmt::format("{}, ", n);
  all.resize(all.size() - 2);
  return fail(fmt::format("unknown policy `{}` (built-ins and profiles: {})", name, all));
}

}  // namespace imashim::policy
