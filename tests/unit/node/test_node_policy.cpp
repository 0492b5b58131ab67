#include <catch2/catch.hpp>

#include <algorithm>

#include "imashim/node/node_policy.hpp"

using namespace imashim::node;

namespace {
NodeFacts ubuntu() { return gather_facts({IMASHIM_FIXTURES "/node/ubuntu-20.04", std::nullopt}); }
}  // namespace

TEST_CASE("node policy: built-ins boot with ima_policy=<name>", "[node][node_policy]") {
  NodeFacts f = ubuntu();
  auto tcb = node_policy("tcb", f);
  REQUIRE(tcb.ok());
  CHECK(tcb->builtin);
  CHECK_FALSE(tcb->appraises);
  CHECK(tcb->boot_line == "ima_policy=tcb ima_template=ima-ng ima_hash=sha256 rootflags=i_version");
  CHECK(tcb->text.find("measure func=BPRM_CHECK") != std::string::npos);
  auto at = node_policy("appraise_tcb", f);
  REQUIRE(at.ok());
  CHECK(at->appraises);
  CHECK(at->boot_line ==
        "ima_policy=appraise_tcb ima_template=ima-ng ima_hash=sha256 ima_appraise=fix rootflags=i_version");
  CHECK(at->steps.back().find("ima_appraise=enforce") != std::string::npos);
}

TEST_CASE("node policy: CIS profiles are installed as a file, booted with tcb and fix", "[node][node_policy]") {
  auto cis = node_policy("cis-ubuntu-20.04", ubuntu(), "/etc/ima/ima-policy");
  REQUIRE(cis.ok());
  CHECK_FALSE(cis->builtin);
  CHECK(cis->appraises);
  CHECK(cis->boot_line == "ima_policy=tcb ima_template=ima-ng ima_hash=sha256 ima_appraise=fix rootflags=i_version");
  CHECK(cis->steps.front().starts_with("install the policy as /etc/ima/ima-policy"));
  CHECK(cis->text.find("# CIS Ubuntu 20.04") != std::string::npos);
  auto w = watched_files("k8s-worker");
  REQUIRE(w.ok());
  CHECK(std::find(w->begin(), w->end(), "/etc/kubernetes/kubelet.conf") != w->end());
  CHECK(watched_files("tcb")->empty());
  auto bad = node_policy("nope", ubuntu());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() == "unknown profile `nope` (cis-ubuntu-20.04, k8s-worker, tcb, appraise_tcb)");
}

TEST_CASE("node label: one filesystem at a time, filtered as the profile says", "[node][node_policy]") {
  auto plan = plan_node_label("cis-ubuntu-20.04", ubuntu());
  REQUIRE(plan.ok());
  std::vector<std::string> labelled, skipped;
  for (const auto& t : *plan) (t.label ? labelled : skipped).push_back(t.mount.target);
  CHECK(labelled == std::vector<std::string>{"/", "/var/lib/kubelet"});
  auto efi = std::find_if(plan->begin(), plan->end(), [](const LabelTarget& t) { return t.mount.target == "/boot/efi"; });
  REQUIRE(efi != plan->end());
  CHECK(efi->reason == "vfat: not a filesystem IMA appraises by label (no security.ima)");
  auto tcb = plan_node_label("tcb", ubuntu());
  REQUIRE(tcb.ok());
  CHECK(std::none_of(tcb->begin(), tcb->end(), [](const LabelTarget& t) { return t.label; }));
}
