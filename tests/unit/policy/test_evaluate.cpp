// The evaluator against ima_match_policy()'s semantics.
#include <catch2/catch.hpp>

#include "imashim/policy/builtin.hpp"
#include "imashim/policy/evaluate.hpp"

using namespace imashim;
using namespace imashim::policy;

namespace {
Policy policy_of(std::string_view text) {
  auto p = parse_policy_strict(text, "test");
  REQUIRE(p.ok());
  return std::move(*p);
}
Access exec_as(std::uint32_t uid) {
  Access a;
  a.func = Func::bprm_check;
  a.mask = kMayExec;
  a.uid = a.euid = a.suid = uid;
  return a;
}
}  // namespace

TEST_CASE("evaluate: the first matching rule of each class decides", "[policy][evaluate]") {
  Policy p = policy_of(
      "dont_measure fsmagic=0x1021994\n"
      "measure func=BPRM_CHECK mask=MAY_EXEC pcr=11 template=ima-sig\n"
      "measure\n"
      "appraise fowner=0 appraise_type=imasig\n"
      "audit func=BPRM_CHECK\n");
  Access a = exec_as(1000);
  Decision d = evaluate(p, a);
  CHECK(d.measure());
  CHECK(d.of(ActionClass::measure).rule == 1u);
  CHECK(d.pcr == 11);
  CHECK(d.template_name == "ima-sig");
  CHECK(d.appraise());
  CHECK(d.of(ActionClass::appraise).rule == 3u);
  CHECK(d.appraise_type == AppraiseType::imasig);
  CHECK(d.audit());
  CHECK_FALSE(d.hash());
  CHECK_FALSE(d.of(ActionClass::hash).rule.has_value());

  a.fsmagic = kTmpfsMagic;
  a.fowner = 5;
  d = evaluate(p, a);
  CHECK_FALSE(d.measure());
  CHECK(d.of(ActionClass::measure).rule == 0u);
  CHECK_FALSE(d.pcr.has_value());  // the deciding rule has none
  CHECK_FALSE(d.appraise());
  CHECK_FALSE(d.of(ActionClass::appraise).rule.has_value());
}

TEST_CASE("evaluate: mask= is exact, mask=^ is any bit", "[policy][evaluate]") {
  Policy p = policy_of("measure func=FILE_CHECK mask=MAY_READ\nappraise func=FILE_CHECK mask=^MAY_WRITE\n");
  Access a;
  a.func = Func::file_check;
  a.mask = kMayRead | kMayWrite;
  Decision d = evaluate(p, a);
  CHECK_FALSE(d.measure());
  CHECK(d.appraise());
  a.mask = kMayRead;
  d = evaluate(p, a);
  CHECK(d.measure());
  CHECK_FALSE(d.appraise());
}

TEST_CASE("evaluate: uid, euid (with CAP_SETUID), gid, fowner comparisons", "[policy][evaluate]") {
  Policy p = policy_of("hash fgroup=7\nmeasure euid=0\nappraise fowner>999\naudit gid<100\n");
  Access a = exec_as(1000);
  a.euid = 1000;
  a.suid = 0;
  a.fowner = 1000;
  a.gid = 100;
  a.fgroup = 7;
  Decision d = evaluate(p, a);
  CHECK_FALSE(d.measure());   // euid 1000, no CAP_SETUID
  CHECK(d.appraise());        // 1000 > 999
  CHECK_FALSE(d.audit());     // 100 is not < 100
  CHECK_FALSE(d.hash());      // hash matched first, then appraise: the kernel drops IMA_HASH
  CHECK(d.of(ActionClass::hash).rule == 0u);
  a.cap_setuid = true;        // may switch to its saved uid 0
  CHECK(evaluate(p, a).measure());
  a.fowner = 999;
  d = evaluate(p, a);
  CHECK_FALSE(d.appraise());
  CHECK(d.hash());
}

TEST_CASE("evaluate: fsuuid, fsname and LSM labels", "[policy][evaluate]") {
  Policy p = policy_of(
      "dont_appraise fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6\n"
      "appraise fsname=ext4\n"
      "measure obj_type=etc_t\n");
  Access a;
  a.fsname = "ext4";
  a.fsuuid = uuid_from_string("8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6");
  CHECK_FALSE(evaluate(p, a).appraise());
  a.fsuuid.reset();
  CHECK(evaluate(p, a).appraise());
  CHECK_FALSE(evaluate(p, a).measure());  // no label: an LSM condition does not match
  a.lsm[static_cast<int>(LsmField::obj_type)] = "etc_t";
  CHECK(evaluate(p, a).measure());
}

TEST_CASE("evaluate: KEY_CHECK and CRITICAL_DATA match on keyrings and labels", "[policy][evaluate]") {
  Policy p = policy_of(
      "measure func=KEY_CHECK keyrings=.ima|.evm\n"
      "measure func=CRITICAL_DATA label=selinux\n"
      "measure\n");
  Access a;
  a.func = Func::key_check;
  a.func_data = ".ima";
  CHECK(evaluate(p, a).of(ActionClass::measure).rule == 0u);
  a.func_data = ".builtin_trusted_keys";
  // Only rules with func=KEY_CHECK can match a key; the catch-all `measure` does not.
  CHECK_FALSE(evaluate(p, a).of(ActionClass::measure).rule.has_value());
  a.func = Func::critical_data;
  a.func_data = "selinux";
  CHECK(evaluate(p, a).of(ActionClass::measure).rule == 1u);
  a.func_data = "kernel_info";
  CHECK_FALSE(evaluate(p, a).measure());
}

TEST_CASE("evaluate: the tcb built-in measures execs and root's reads", "[policy][evaluate]") {
  auto tcb = builtin_policy("tcb");
  REQUIRE(tcb.ok());
  CHECK(evaluate(*tcb, exec_as(1000)).measure());
  Access read;
  read.func = Func::file_check;
  read.mask = kMayRead | kMayWrite;
  read.uid = read.euid = read.suid = 1000;
  CHECK_FALSE(evaluate(*tcb, read).measure());
  read.euid = 0;
  CHECK(evaluate(*tcb, read).measure());
  read.fsmagic = 0x9fa0;  // procfs
  CHECK_FALSE(evaluate(*tcb, read).measure());
  auto secure = builtin_policy("secure_boot|fail_securely");
  REQUIRE(secure.ok());
  Access mod;
  mod.func = Func::module_check;
  Decision d = evaluate(*secure, mod);
  CHECK(d.appraise());
  CHECK(d.appraise_type == AppraiseType::imasig);
  CHECK(d.fail_unverifiable_sigs);
}
