// The built-in policies print exactly the rules ima_init_policy() adds
// (security/integrity/ima/ima_policy.c), magic numbers from include/uapi/linux/magic.h.
#include <catch2/catch.hpp>

#include "imashim/policy/builtin.hpp"

using namespace imashim;
using namespace imashim::policy;

namespace {
std::string rules_of(std::string_view name, const BuildOptions& o = {}) {
  auto p = builtin_policy(name, o);
  REQUIRE(p.ok());
  return to_string(*p, WithComments::no);
}

const std::string kDontMeasure =
    "dont_measure fsmagic=0x9fa0\n"       // PROC_SUPER_MAGIC
    "dont_measure fsmagic=0x62656572\n"   // SYSFS_MAGIC
    "dont_measure fsmagic=0x64626720\n"   // DEBUGFS_MAGIC
    "dont_measure fsmagic=0x1021994\n"    // TMPFS_MAGIC
    "dont_measure fsmagic=0x1cd1\n"       // DEVPTS_SUPER_MAGIC
    "dont_measure fsmagic=0x42494e4d\n"   // BINFMTFS_MAGIC
    "dont_measure fsmagic=0x73636673\n"   // SECURITYFS_MAGIC
    "dont_measure fsmagic=0xf97cff8c\n"   // SELINUX_MAGIC
    "dont_measure fsmagic=0x43415d53\n"   // SMACK_MAGIC
    "dont_measure fsmagic=0x27e0eb\n"     // CGROUP_SUPER_MAGIC
    "dont_measure fsmagic=0x63677270\n"   // CGROUP2_SUPER_MAGIC
    "dont_measure fsmagic=0x6e736673\n"   // NSFS_MAGIC
    "dont_measure fsmagic=0xde5e81e4\n";  // EFIVARFS_MAGIC

const std::string kDontAppraise =
    "dont_appraise fsmagic=0x9fa0\n"
    "dont_appraise fsmagic=0x62656572\n"
    "dont_appraise fsmagic=0x64626720\n"
    "dont_appraise fsmagic=0x1021994\n"
    "dont_appraise fsmagic=0x858458f6\n"  // RAMFS_MAGIC
    "dont_appraise fsmagic=0x1cd1\n"
    "dont_appraise fsmagic=0x42494e4d\n"
    "dont_appraise fsmagic=0x73636673\n"
    "dont_appraise fsmagic=0xf97cff8c\n"
    "dont_appraise fsmagic=0x43415d53\n"
    "dont_appraise fsmagic=0x6e736673\n"
    "dont_appraise fsmagic=0xde5e81e4\n"
    "dont_appraise fsmagic=0x27e0eb\n"
    "dont_appraise fsmagic=0x63677270\n";
}  // namespace

TEST_CASE("ima_policy=tcb", "[policy][builtin]") {
  CHECK(rules_of("tcb") == kDontMeasure +
                               "measure func=MMAP_CHECK mask=MAY_EXEC\n"
                               "measure func=BPRM_CHECK mask=MAY_EXEC\n"
                               "measure func=FILE_CHECK mask=^MAY_READ euid=0\n"
                               "measure func=FILE_CHECK mask=^MAY_READ uid=0\n"
                               "measure func=MODULE_CHECK\n"
                               "measure func=FIRMWARE_CHECK\n"
                               "measure func=POLICY_CHECK\n");
}

TEST_CASE("ima_tcb (the original measurement policy)", "[policy][builtin]") {
  CHECK(rules_of("original_tcb") == kDontMeasure +
                                        "measure func=MMAP_CHECK mask=MAY_EXEC\n"
                                        "measure func=BPRM_CHECK mask=MAY_EXEC\n"
                                        "measure func=FILE_CHECK mask=MAY_READ uid=0\n"
                                        "measure func=MODULE_CHECK\n"
                                        "measure func=FIRMWARE_CHECK\n");
}

TEST_CASE("ima_policy=appraise_tcb, with and without the signing build options", "[policy][builtin]") {
  CHECK(rules_of("appraise_tcb") == kDontAppraise + "appraise fowner=0\n");
  CHECK(rules_of("appraise_tcb", {true, true}) ==
        kDontAppraise + "appraise func=POLICY_CHECK appraise_type=imasig\nappraise fowner=0 appraise_type=imasig\n");
}

TEST_CASE("ima_policy=secure_boot, critical_data, fail_securely", "[policy][builtin]") {
  CHECK(rules_of("secure_boot") ==
        "appraise func=MODULE_CHECK appraise_type=imasig\n"
        "appraise func=FIRMWARE_CHECK appraise_type=imasig\n"
        "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n"
        "appraise func=POLICY_CHECK appraise_type=imasig\n");
  CHECK(rules_of("critical_data") == "measure func=CRITICAL_DATA\n");
  auto fs = builtin_policy("fail_securely");
  REQUIRE(fs.ok());
  CHECK(fs->rules.empty());
  CHECK(fs->fail_unverifiable_sigs);
}

TEST_CASE("combined built-ins follow ima_init_policy's order", "[policy][builtin]") {
  // secure_boot rules come before appraise_tcb's, whatever the order on the command line.
  std::string s = rules_of("appraise_tcb|secure_boot|tcb");
  CHECK(s.find("measure func=POLICY_CHECK\nappraise func=MODULE_CHECK") != std::string::npos);
  CHECK(s.find("appraise func=POLICY_CHECK appraise_type=imasig\ndont_appraise fsmagic=0x9fa0") != std::string::npos);
  // The first of tcb / ima_tcb wins, as in the kernel.
  CHECK(rules_of("tcb|original_tcb") == rules_of("tcb"));
  auto bad = builtin_policy("tcb|nope");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() ==
        "unknown built-in policy `nope` (tcb, original_tcb, appraise_tcb, secure_boot, critical_data, fail_securely)");
}

TEST_CASE("built-ins and profiles print policies that parse back unchanged", "[policy][builtin]") {
  std::vector<std::string_view> names = builtin_names();
  for (auto p : profile_names()) names.push_back(p);
  for (auto name : names) {
    auto p = named_policy(name);
    REQUIRE(p.ok());
    std::string text = to_string(*p);
    KernelFeatures debian;
    debian.version = KernelVersion{6, 1};
    auto back = parse_policy(text, debian);
    INFO(name);
    CHECK(back.ok());
    CHECK(back.diagnostics.empty());
    CHECK(to_string(back.policy) == text);
  }
}

TEST_CASE("every profile rule names the recommendation it serves", "[policy][profiles]") {
  for (auto name : profile_names()) {
    auto prof = profile(name);
    REQUIRE(prof.ok());
    CHECK_FALSE(prof->watched.empty());
    std::string bench = name == "k8s-worker" ? "CIS Kubernetes Benchmark" : "CIS Ubuntu 20.04 v2.0.1 1.2.2";
    for (const auto& r : prof->policy.rules) {
      INFO(to_string(r));
      REQUIRE(r.comments.size() == 1);
      CHECK(r.comments[0].find(bench) == 0);
    }
  }
  auto k8s = profile("k8s-worker");
  REQUIRE(k8s.ok());
  std::vector<std::string> paths;
  for (const auto& w : k8s->watched) paths.push_back(w.path);
  for (auto want : {"/etc/kubernetes/kubelet.conf", "/var/lib/kubelet/config.yaml", "/etc/kubernetes/pki/ca.crt",
                    "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", "/var/lib/kube-proxy/kubeconfig.conf"})
    CHECK(std::find(paths.begin(), paths.end(), want) != paths.end());
  CHECK_FALSE(profile("nope").ok());
}
