#include <catch2/catch.hpp>

#include "fake_securityfs.hpp"
#include "imashim/backends/kernel.hpp"

using namespace imashim;
using namespace imashim::backends::kernel;
using imashim::testing::FakeSecurityFs;
using imashim::testing::TempDir;

TEST_CASE("policy_rules skips blanks and comments and keeps line numbers", "[backends]") {
  auto rules = policy_rules("# head\n\nmeasure func=BPRM_CHECK\n  \t\n  appraise fowner=0  \n#x");
  REQUIRE(rules.size() == 2);
  CHECK(rules[0].line == 3);
  CHECK(rules[0].rule == "measure func=BPRM_CHECK");
  CHECK(rules[1].line == 5);
  CHECK(rules[1].rule == "appraise fowner=0");
}

TEST_CASE("load_policy writes one rule per write and names a rejected line", "[backends]") {
  TempDir t;
  FakeSecurityFs fake(t.path());
  auto policy = fake.ima() / "policy";
  testing::write_text(policy, "");
  REQUIRE(load_policy(fake, policy, "measure func=BPRM_CHECK\n# c\nappraise func=FILE_CHECK\n").ok());
  CHECK(fake.writes[policy.string()] ==
        std::vector<std::string>{"measure func=BPRM_CHECK\n", "appraise func=FILE_CHECK\n"});
  auto bad = load_policy(fake, policy, "measure func=BPRM_CHECK\nbogus rule\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().sys_errno() == EINVAL);
  CHECK(bad.error().message().find("policy line 2 rejected") != std::string::npos);
}

TEST_CASE("write_rule continues after short writes", "[backends]") {
  struct Halves final : SysFiles {
    std::string got;
    Result<os::UniqueFd> open(const std::filesystem::path&, int) override { return os::UniqueFd(); }
    ssize_t write(int, std::string_view d) override {
      auto n = std::max<std::size_t>(1, d.size() / 2);
      got += d.substr(0, n);
      return static_cast<ssize_t>(n);
    }
    Result<std::string> read(const std::filesystem::path&) override { return std::string(); }
    bool exists(const std::filesystem::path&) override { return true; }
  } halves;
  REQUIRE(write_rule(halves, 3, "measure func=BPRM_CHECK").ok());
  CHECK(halves.got == "measure func=BPRM_CHECK\n");
}

TEST_CASE("check_policy: verdict per rule, ends each open with an invalid rule", "[backends]") {
  TempDir t;
  FakeSecurityFs fake(t.path());
  auto policy = fake.ima() / "policy";
  testing::write_text(policy, "");
  auto v = check_policy(fake, policy, "measure func=BPRM_CHECK\nnonsense a=b\naudit func=FILE_CHECK\n");
  REQUIRE(v.ok());
  REQUIRE(v->size() == 3);
  CHECK((*v)[0].accepted());
  CHECK((*v)[1].error == EINVAL);
  CHECK((*v)[2].accepted());
  // Two opens: the first ended by the rejected rule, the second by the discard rule.
  CHECK(fake.opens == 2);
  auto& w = fake.writes[policy.string()];
  REQUIRE(w.size() == 4);
  CHECK(w.back() == "imashim-discard-this-update\n");
}

TEST_CASE("check_policy and load_policy say why a missing policy file is missing", "[backends]") {
  TempDir t;
  FakeSecurityFs fake(t.path());
  auto r = check_policy(fake, fake.ima() / "policy", "measure func=BPRM_CHECK\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("already loaded this boot") != std::string::npos);
}

TEST_CASE("policy file open retries while EBUSY", "[backends]") {
  TempDir t;
  FakeSecurityFs fake(t.path());
  auto policy = fake.ima() / "policy";
  testing::write_text(policy, "");
  fake.open_errors["policy"] = {EBUSY, EBUSY};
  REQUIRE(load_policy(fake, policy, "measure func=BPRM_CHECK\n").ok());
  CHECK(fake.opens == 3);
}

TEST_CASE("cmdline_param finds the last occurrence", "[backends]") {
  CHECK(cmdline_param("ro ima_appraise=fix quiet ima_appraise=enforce_ns\n", "ima_appraise") == "enforce_ns");
  CHECK(cmdline_param("ro ima_appraise_tcb", "ima_appraise") == std::nullopt);
  CHECK(cmdline_param("ro ima_tcb x", "ima_tcb") == "");
}
