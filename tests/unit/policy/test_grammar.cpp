// One case per grammar item of Documentation/ABI/testing/ima_policy, valid and
// invalid, with the canonical form or the exact diagnostic.
#include <catch2/catch.hpp>

#include "imashim/policy/policy.hpp"

using namespace imashim;
using namespace imashim::policy;

namespace {

struct Case {
  const char* rule;
  const char* want;  // canonical text, or the error ("COL: error: ...") when it starts with a digit
};

KernelFeatures kernel(int major, int minor) {
  KernelFeatures f;
  f.version = KernelVersion{major, minor};
  return f;
}

void check_cases(std::initializer_list<Case> cases, const KernelFeatures& f = {}) {
  for (const auto& c : cases) {
    INFO("rule: " << c.rule);
    auto r = parse_rule(c.rule, f, 1);
    std::string got = r.ok() ? to_string(*r) : r.error().message();
    if (!r.ok()) {
      REQUIRE(got.rfind("1:", 0) == 0);
      got = got.substr(2);
    }
    CHECK(got == c.want);
  }
}

}  // namespace

TEST_CASE("grammar: actions", "[policy][grammar]") {
  check_cases({
      {"measure", "measure"},
      {"dont_measure", "dont_measure"},
      {"appraise", "appraise"},
      {"dont_appraise", "dont_appraise"},
      {"audit", "audit"},
      {"hash", "hash"},
      {"dont_hash", "dont_hash"},
      {"  measure\t", "measure"},
      {"", "1: error: rule has no action (measure, dont_measure, appraise, dont_appraise, audit, hash, dont_hash)"},
      {"func=BPRM_CHECK",
       "1: error: rule has no action (measure, dont_measure, appraise, dont_appraise, audit, hash, dont_hash)"},
      {"measure appraise", "9: error: second action `appraise`: a rule has one action"},
      {"measure measure", "9: error: second action `measure`: a rule has one action"},
      {"dont_audit", "1: error: unknown token `dont_audit`"},
      {"Measure", "1: error: unknown token `Measure`"},
      {"measure=1", "1: error: action `measure` takes no value"},
      {"measure\r", "1: error: unknown token `measure\r`: a carriage return (the kernel splits on space and tab only)"},
      {"measure # trailing comment", "9: error: unknown token `#`"},
  });
}

TEST_CASE("grammar: func=", "[policy][grammar]") {
  check_cases({
      {"measure func=BPRM_CHECK", "measure func=BPRM_CHECK"},
      {"measure func=MMAP_CHECK", "measure func=MMAP_CHECK"},
      {"measure func=MMAP_CHECK_REQPROT", "measure func=MMAP_CHECK_REQPROT"},
      {"measure func=CREDS_CHECK", "measure func=CREDS_CHECK"},
      {"measure func=FILE_CHECK", "measure func=FILE_CHECK"},
      {"measure func=MODULE_CHECK", "measure func=MODULE_CHECK"},
      {"measure func=FIRMWARE_CHECK", "measure func=FIRMWARE_CHECK"},
      {"measure func=KEXEC_KERNEL_CHECK", "measure func=KEXEC_KERNEL_CHECK"},
      {"measure func=KEXEC_INITRAMFS_CHECK", "measure func=KEXEC_INITRAMFS_CHECK"},
      {"measure func=KEXEC_CMDLINE", "measure func=KEXEC_CMDLINE"},
      {"measure func=KEY_CHECK", "measure func=KEY_CHECK"},
      {"measure func=CRITICAL_DATA", "measure func=CRITICAL_DATA"},
      {"appraise func=SETXATTR_CHECK appraise_algos=sha256", "appraise func=SETXATTR_CHECK appraise_algos=sha256"},
      {"measure func=POLICY_CHECK", "measure func=POLICY_CHECK"},
      // The old names the kernel still accepts print as the new ones.
      {"measure func=PATH_CHECK", "measure func=FILE_CHECK"},
      {"measure func=FILE_MMAP", "measure func=MMAP_CHECK"},
      {"measure func=file_check",
       "9: error: unknown func `file_check` (BPRM_CHECK, MMAP_CHECK, MMAP_CHECK_REQPROT, CREDS_CHECK, FILE_CHECK, "
       "MODULE_CHECK, FIRMWARE_CHECK, KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, KEXEC_CMDLINE, KEY_CHECK, "
       "CRITICAL_DATA, SETXATTR_CHECK, POLICY_CHECK)"},
      {"measure func=", "9: error: `func=` has an empty value"},
      {"measure func", "9: error: `func` needs a value (`func=...`)"},
      {"measure func<BPRM_CHECK", "9: error: `func` takes `=`, not `<`"},
      {"measure func=BPRM_CHECK func=FILE_CHECK", "25: error: duplicate `func=`: a rule takes it once"},
      {"measure func=POST_SETATTR", "9: error: unknown func `POST_SETATTR` (BPRM_CHECK, MMAP_CHECK, "
                                    "MMAP_CHECK_REQPROT, CREDS_CHECK, FILE_CHECK, MODULE_CHECK, FIRMWARE_CHECK, "
                                    "KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, KEXEC_CMDLINE, KEY_CHECK, "
                                    "CRITICAL_DATA, SETXATTR_CHECK, POLICY_CHECK)"},
  });
}

TEST_CASE("grammar: mask=", "[policy][grammar]") {
  check_cases({
      {"measure mask=MAY_READ", "measure mask=MAY_READ"},
      {"measure mask=MAY_WRITE", "measure mask=MAY_WRITE"},
      {"measure mask=MAY_APPEND", "measure mask=MAY_APPEND"},
      {"measure mask=MAY_EXEC", "measure mask=MAY_EXEC"},
      {"measure mask=^MAY_READ", "measure mask=^MAY_READ"},
      {"measure mask=^MAY_WRITE", "measure mask=^MAY_WRITE"},
      {"measure mask=^MAY_APPEND", "measure mask=^MAY_APPEND"},
      {"measure mask=^MAY_EXEC", "measure mask=^MAY_EXEC"},
      {"measure mask=MAY_READ|MAY_EXEC",
       "9: error: unknown mask `MAY_READ|MAY_EXEC` (MAY_EXEC, MAY_WRITE, MAY_READ, MAY_APPEND)"},
      {"measure mask=^^MAY_READ", "9: error: unknown mask `^MAY_READ` (MAY_EXEC, MAY_WRITE, MAY_READ, MAY_APPEND)"},
      {"measure mask=MAY_READ mask=^MAY_EXEC", "23: error: duplicate `mask=`: a rule takes it once"},
  });
}

TEST_CASE("grammar: fsmagic=, fsuuid=, fsname=", "[policy][grammar]") {
  check_cases({
      {"dont_measure fsmagic=0x9fa0", "dont_measure fsmagic=0x9fa0"},
      {"dont_measure fsmagic=9FA0", "dont_measure fsmagic=0x9fa0"},
      {"dont_measure fsmagic=0X01021994", "dont_measure fsmagic=0x1021994"},
      {"dont_measure fsmagic=proc", "14: error: fsmagic `proc` is not a hexadecimal number"},
      {"dont_measure fsmagic=0x", "14: error: fsmagic `0x` is not a hexadecimal number"},
      {"dont_measure fsmagic=0x10000000000000000", "14: error: fsmagic `0x10000000000000000` is not a hexadecimal number"},
      {"dont_measure fsmagic=1 fsmagic=2", "24: error: duplicate `fsmagic=`: a rule takes it once"},
      {"appraise fsuuid=8BCBE394-4F13-4144-BE8E-5AA9EA2CE2F6", "appraise fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6"},
      {"appraise fsuuid=8bcbe394-4f13-4144-be8e", "10: error: fsuuid `8bcbe394-4f13-4144-be8e` is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"},
      {"appraise fsuuid=8bcbe3944f134144be8e5aa9ea2ce2f6abcd",
       "10: error: fsuuid `8bcbe3944f134144be8e5aa9ea2ce2f6abcd` is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"},
      {"appraise fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6 fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6",
       "54: error: duplicate `fsuuid=`: a rule takes it once"},
      {"dont_appraise fsname=tmpfs", "dont_appraise fsname=tmpfs"},
      {"dont_appraise fsname=", "15: error: `fsname=` has an empty value"},
  });
}

TEST_CASE("grammar: uid, euid, gid, egid, fowner, fgroup with =, > and <", "[policy][grammar]") {
  check_cases({
      {"measure uid=0", "measure uid=0"},
      {"measure uid>999", "measure uid>999"},
      {"measure uid<1000", "measure uid<1000"},
      {"measure euid=0", "measure euid=0"},
      {"measure euid>0", "measure euid>0"},
      {"measure euid<1", "measure euid<1"},
      {"measure gid=0", "measure gid=0"},
      {"measure gid>10", "measure gid>10"},
      {"measure gid<10", "measure gid<10"},
      {"measure egid=5", "measure egid=5"},
      {"measure egid>5", "measure egid>5"},
      {"measure egid<5", "measure egid<5"},
      {"appraise fowner=0", "appraise fowner=0"},
      {"appraise fowner>1000", "appraise fowner>1000"},
      {"appraise fowner<1000", "appraise fowner<1000"},
      {"appraise fgroup=0", "appraise fgroup=0"},
      {"appraise fgroup>100", "appraise fgroup>100"},
      {"appraise fgroup<100", "appraise fgroup<100"},
      {"measure uid=+7", "measure uid=7"},
      {"measure uid=4294967294", "measure uid=4294967294"},
      {"measure uid=4294967295", "9: error: `4294967295` is not a valid id (decimal 0..4294967294)"},
      {"measure uid=-1", "9: error: `-1` is not a valid id (decimal 0..4294967294)"},
      {"measure uid=0x10", "9: error: `0x10` is not a valid id (decimal 0..4294967294)"},
      {"measure uid=root", "9: error: `root` is not a valid id (decimal 0..4294967294)"},
      {"measure uid=0 euid=0", "15: error: a rule takes one uid/euid condition"},
      {"measure euid=0 uid<5", "16: error: a rule takes one uid/euid condition"},
      {"measure gid=0 egid=0", "15: error: a rule takes one gid/egid condition"},
      {"appraise fowner=0 fowner>1", "19: error: a rule takes one fowner condition"},
      {"appraise fgroup=0 fgroup=0", "19: error: a rule takes one fgroup condition"},
      {"measure uid>=5", "9: error: `=5` is not a valid id (decimal 0..4294967294)"},
      {"measure uid", "9: error: `uid` needs a value (`uid=...`)"},
  });
}

TEST_CASE("grammar: LSM conditions", "[policy][grammar]") {
  check_cases({
      {"measure subj_user=system_u", "measure subj_user=system_u"},
      {"measure subj_role=system_r", "measure subj_role=system_r"},
      {"measure subj_type=sshd_t", "measure subj_type=sshd_t"},
      {"dont_measure obj_user=user_u", "dont_measure obj_user=user_u"},
      {"dont_measure obj_role=object_r", "dont_measure obj_role=object_r"},
      {"dont_measure obj_type=var_log_t", "dont_measure obj_type=var_log_t"},
      // Printed in the kernel's order: object before subject.
      {"measure subj_type=a obj_type=b", "measure obj_type=b subj_type=a"},
      {"measure obj_type=a obj_type=b", "20: error: duplicate `obj_type=`: a rule takes it once"},
      {"measure func=KEY_CHECK subj_type=a", "24: error: `subj_type=a`: not allowed in a rule with func=KEY_CHECK"},
  });
  KernelFeatures no_lsm;
  no_lsm.lsm_rules = false;
  check_cases({{"measure subj_user=system_u", "9: error: `subj_user=`: no LSM in the target kernel defines this label"}},
              no_lsm);
}

TEST_CASE("grammar: digest_type=", "[policy][grammar]") {
  check_cases({
      {"measure digest_type=verity", "measure digest_type=verity"},
      {"dont_appraise digest_type=verity", "dont_appraise digest_type=verity"},
      {"appraise digest_type=verity appraise_type=sigv3", "appraise digest_type=verity appraise_type=sigv3"},
      {"appraise digest_type=verity",
       "10: error: `digest_type=verity`: digest_type=verity in an appraise rule needs appraise_type=sigv3"},
      {"appraise appraise_type=sigv3 digest_type=verity", "10: error: appraise_type=sigv3 needs digest_type=verity before it"},
      {"appraise appraise_type=imasig digest_type=verity", "31: error: digest_type= must come before appraise_type="},
      {"measure digest_type=sha256", "9: error: unknown digest_type `sha256` (verity)"},
  });
}

TEST_CASE("grammar: template=", "[policy][grammar]") {
  check_cases({
      {"measure template=ima", "measure template=ima"},
      {"measure template=ima-ng", "measure template=ima-ng"},
      {"measure template=ima-sig", "measure template=ima-sig"},
      {"measure template=ima-ngv2", "measure template=ima-ngv2"},
      {"measure template=ima-sigv2", "measure template=ima-sigv2"},
      {"measure template=ima-buf", "measure template=ima-buf"},
      {"measure template=ima-modsig", "measure template=ima-modsig"},
      {"measure template=evm-sig", "measure template=evm-sig"},
      {"measure template=d-ng|n-ng",
       "9: error: unknown template `d-ng|n-ng` (ima, ima-ng, ima-ngv2, ima-sig, ima-sigv2, ima-buf, ima-modsig, evm-sig)"},
      {"template=ima-ng measure", "1: error: template= is only valid after `measure`"},
      {"appraise template=ima-ng", "10: error: template= is only valid after `measure`"},
      {"measure template=ima-ng template=ima-sig", "25: error: duplicate `template=`: a rule takes it once"},
  });
}

TEST_CASE("grammar: permit_directio", "[policy][grammar]") {
  check_cases({
      {"appraise permit_directio", "appraise permit_directio"},
      {"measure func=FILE_CHECK permit_directio", "measure func=FILE_CHECK permit_directio"},
      {"appraise permit_directio=1", "10: error: `permit_directio` takes no value"},
      {"measure func=KEXEC_CMDLINE permit_directio",
       "28: error: `permit_directio`: not allowed in a rule with func=KEXEC_CMDLINE"},
  });
}

TEST_CASE("grammar: appraise_type=", "[policy][grammar]") {
  check_cases({
      {"appraise appraise_type=imasig", "appraise appraise_type=imasig"},
      {"appraise func=MODULE_CHECK appraise_type=imasig|modsig", "appraise func=MODULE_CHECK appraise_type=imasig|modsig"},
      {"appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig|modsig",
       "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig|modsig"},
      {"appraise func=BPRM_CHECK appraise_type=imasig|modsig",
       "26: error: `appraise_type=imasig|modsig`: not allowed in a rule with func=BPRM_CHECK"},
      {"appraise appraise_type=imasig|modsig", "10: error: `appraise_type=imasig|modsig`: not allowed in a rule with no func="},
      {"appraise appraise_type=modsig", "10: error: unknown appraise_type `modsig` (imasig, imasig|modsig, sigv3)"},
      {"measure appraise_type=imasig",
       "9: error: `appraise_type=imasig`: appraise_type=, appraise_flag= and appraise_algos= are only valid with `appraise`"},
      {"appraise digest_type=verity appraise_type=imasig",
       "29: error: appraise_type=imasig cannot follow digest_type=verity (use sigv3)"},
  });
  KernelFeatures no_modsig;
  no_modsig.modsig = false;
  check_cases({{"appraise func=MODULE_CHECK appraise_type=imasig|modsig",
                "28: error: unknown appraise_type `imasig|modsig` (imasig, imasig|modsig, sigv3): the target kernel "
                "lacks CONFIG_IMA_APPRAISE_MODSIG"}},
              no_modsig);
}

TEST_CASE("grammar: appraise_flag=", "[policy][grammar]") {
  check_cases({
      {"appraise func=MODULE_CHECK appraise_type=imasig|modsig appraise_flag=check_blacklist",
       "appraise func=MODULE_CHECK appraise_type=imasig|modsig appraise_flag=check_blacklist"},
      {"appraise func=MODULE_CHECK appraise_flag=check_blacklist",
       "28: error: `appraise_flag=check_blacklist`: appraise_flag=check_blacklist needs appraise_type=imasig|modsig"},
      {"appraise appraise_flag=check_signature", "10: error: unknown appraise_flag `check_signature` (check_blacklist)"},
  });
  // Since 6.6 the option is accepted and ignored.
  check_cases({{"appraise appraise_flag=check_blacklist", "appraise"}}, kernel(6, 6));
}

TEST_CASE("grammar: appraise_algos=", "[policy][grammar]") {
  check_cases({
      {"appraise appraise_algos=sha256", "appraise appraise_algos=sha256"},
      {"appraise appraise_algos=sha512,sha256,sha1", "appraise appraise_algos=sha1,sha256,sha512"},
      {"appraise appraise_algos=sha257", "10: error: unknown hash algorithm `sha257` in appraise_algos"},
      {"appraise appraise_algos=sha256,", "10: error: unknown hash algorithm `` in appraise_algos"},
      {"appraise appraise_algos=sha-256", "10: error: unknown hash algorithm `sha-256` in appraise_algos"},
      {"appraise appraise_algos=sha1 appraise_algos=sha1", "30: error: duplicate `appraise_algos=`: a rule takes it once"},
      {"measure appraise_algos=sha256",
       "9: error: `appraise_algos=sha256`: appraise_type=, appraise_flag= and appraise_algos= are only valid with `appraise`"},
      {"appraise func=SETXATTR_CHECK", "10: error: `func=SETXATTR_CHECK`: func=SETXATTR_CHECK needs appraise_algos="},
      {"appraise func=SETXATTR_CHECK appraise_algos=sha256 fowner=0",
       "52: error: `fowner=0`: not allowed in a rule with func=SETXATTR_CHECK"},
      {"dont_appraise func=SETXATTR_CHECK", "1: error: `dont_appraise`: func=SETXATTR_CHECK only takes appraise"},
  });
}

TEST_CASE("grammar: keyrings= and KEY_CHECK", "[policy][grammar]") {
  check_cases({
      {"measure func=KEY_CHECK keyrings=.ima", "measure func=KEY_CHECK keyrings=.ima"},
      {"measure func=KEY_CHECK keyrings=.builtin_trusted_keys|.ima uid=0 pcr=11 template=ima-buf",
       "measure func=KEY_CHECK keyrings=.builtin_trusted_keys|.ima pcr=11 uid=0 template=ima-buf"},
      {"measure func=KEY_CHECK keyrings=.ima||x", "24: error: `keyrings=.ima||x` has an empty item in its `|`-separated list"},
      {"measure keyrings=.ima", "9: error: `keyrings=.ima`: not allowed in a rule with no func="},
      {"appraise func=KEY_CHECK", "1: error: `appraise`: func=KEY_CHECK only takes measure or dont_measure"},
      {"measure func=KEY_CHECK fowner=0", "24: error: `fowner=0`: not allowed in a rule with func=KEY_CHECK"},
  });
  KernelFeatures no_keys;
  no_keys.asymmetric_keys = false;
  check_cases({{"measure func=KEY_CHECK", "9: error: func=KEY_CHECK needs CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS in the target kernel"}},
              no_keys);
}

TEST_CASE("grammar: label= and CRITICAL_DATA", "[policy][grammar]") {
  check_cases({
      {"measure func=CRITICAL_DATA label=selinux", "measure func=CRITICAL_DATA label=selinux"},
      {"measure func=CRITICAL_DATA label=kernel_info|selinux", "measure func=CRITICAL_DATA label=kernel_info|selinux"},
      {"measure func=CRITICAL_DATA label=", "28: error: `label=` has an empty value"},
      {"measure func=CRITICAL_DATA label=a label=b", "36: error: duplicate `label=`: a rule takes it once"},
      {"measure label=selinux", "9: error: `label=selinux`: not allowed in a rule with no func="},
      {"measure func=CRITICAL_DATA mask=MAY_READ", "28: error: `mask=MAY_READ`: not allowed in a rule with func=CRITICAL_DATA"},
      {"dont_appraise func=CRITICAL_DATA", "1: error: `dont_appraise`: func=CRITICAL_DATA only takes measure or dont_measure"},
  });
}

TEST_CASE("grammar: pcr=", "[policy][grammar]") {
  check_cases({
      {"measure pcr=11", "measure pcr=11"},
      {"measure pcr=0", "measure pcr=0"},
      {"measure pcr=63", "measure pcr=63"},
      {"measure pcr=64", "9: error: pcr `64` is not a PCR index 0..63"},
      {"measure pcr=-1", "9: error: pcr `-1` is not a PCR index 0..63"},
      {"measure pcr=ten", "9: error: pcr `ten` is not a PCR index 0..63"},
      {"appraise pcr=11", "10: error: `pcr=11`: pcr= is only valid with `measure`"},
      {"measure pcr=10 pcr=11", "measure pcr=11"},
  });
}

TEST_CASE("grammar: KEXEC_CMDLINE takes measure rules on the file's filesystem and owner", "[policy][grammar]") {
  check_cases({
      {"measure func=KEXEC_CMDLINE uid=0 pcr=12", "measure func=KEXEC_CMDLINE pcr=12 uid=0"},
      {"appraise func=KEXEC_CMDLINE", "1: error: `appraise`: func=KEXEC_CMDLINE only takes measure or dont_measure"},
      {"measure func=KEXEC_CMDLINE mask=MAY_READ", "28: error: `mask=MAY_READ`: not allowed in a rule with func=KEXEC_CMDLINE"},
  });
}

TEST_CASE("grammar: unknown keys", "[policy][grammar]") {
  check_cases({
      {"measure path=/etc/passwd", "9: error: unknown token `path=/etc/passwd`"},
      {"measure hash=sha256", "9: error: action `hash` takes no value"},
      {"measure func=BPRM_CHECK,FILE_CHECK",
       "9: error: unknown func `BPRM_CHECK,FILE_CHECK` (BPRM_CHECK, MMAP_CHECK, MMAP_CHECK_REQPROT, CREDS_CHECK, "
       "FILE_CHECK, MODULE_CHECK, FIRMWARE_CHECK, KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, KEXEC_CMDLINE, KEY_CHECK, "
       "CRITICAL_DATA, SETXATTR_CHECK, POLICY_CHECK)"},
  });
}

TEST_CASE("grammar: --kernel flags tokens an older kernel rejects", "[policy][grammar]") {
  check_cases({{"measure template=ima-ng", "9: error: `template=` needs Linux 5.5 or later (target kernel 5.4)"},
               {"measure func=KEY_CHECK", "9: error: `func=KEY_CHECK` needs Linux 5.6 or later (target kernel 5.4)"},
               {"measure func=KEY_CHECK keyrings=.ima", "9: error: `func=KEY_CHECK` needs Linux 5.6 or later (target kernel 5.4)"},
               {"appraise func=MODULE_CHECK appraise_type=imasig|modsig", "appraise func=MODULE_CHECK appraise_type=imasig|modsig"}},
              kernel(5, 4));
  check_cases({{"measure func=CRITICAL_DATA", "9: error: `func=CRITICAL_DATA` needs Linux 5.12 or later (target kernel 5.10)"},
               {"measure gid=0", "9: error: `gid=` needs Linux 5.16 or later (target kernel 5.10)"},
               {"appraise appraise_algos=sha256", "10: error: `appraise_algos=` needs Linux 5.15 or later (target kernel 5.10)"},
               {"measure func=BPRM_CHECK uid=0 template=ima-sig", "measure func=BPRM_CHECK uid=0 template=ima-sig"},
               {"measure func=KEY_CHECK keyrings=.ima", "measure func=KEY_CHECK keyrings=.ima"}},
              kernel(5, 10));
  check_cases({{"measure func=CRITICAL_DATA label=selinux", "measure func=CRITICAL_DATA label=selinux"}}, kernel(5, 12));
  check_cases({{"measure func=MMAP_CHECK_REQPROT", "9: error: `func=MMAP_CHECK_REQPROT` needs Linux 6.4 or later (target kernel 6.1)"},
               {"measure digest_type=verity template=ima-ngv2", "measure template=ima-ngv2 digest_type=verity"},
               {"appraise func=SETXATTR_CHECK appraise_algos=sha256", "appraise func=SETXATTR_CHECK appraise_algos=sha256"},
               {"measure gid<100", "measure gid<100"}},
              kernel(6, 1));
  check_cases({{"measure digest_type=verity", "9: error: `digest_type=` needs Linux 5.19 or later (target kernel 5.15)"},
               {"measure template=ima-sigv2", "9: error: `template=ima-sigv2` needs Linux 5.19 or later (target kernel 5.15)"},
               {"appraise appraise_type=sigv3", "10: error: `appraise_type=sigv3` needs Linux 5.19 or later (target kernel 5.15)"}},
              kernel(5, 15));
}

TEST_CASE("grammar: the kernel's tolerated repeats are warnings", "[policy][grammar]") {
  auto out = parse_policy("measure func=PATH_CHECK fsname=ext4 fsname=xfs permit_directio permit_directio\n");
  REQUIRE(out.ok());
  REQUIRE(out.policy.rules.size() == 1);
  CHECK(to_string(out.policy.rules[0]) == "measure func=FILE_CHECK fsname=xfs permit_directio");
  REQUIRE(out.diagnostics.size() == 3);
  CHECK(out.diagnostics[0].format() == "1:9: warning: func=PATH_CHECK is the old name of func=FILE_CHECK");
  CHECK(out.diagnostics[1].format() == "1:37: warning: repeated fsname=: the kernel keeps the last one");
  CHECK(out.diagnostics[2].format() == "1:64: warning: repeated permit_directio");
}

TEST_CASE("grammar: comments and blank lines", "[policy][grammar]") {
  auto out = parse_policy("# a comment\n\n   \t\n  # indented comment\nmeasure func=BPRM_CHECK\n#\n");
  REQUIRE(out.ok());
  REQUIRE(out.policy.rules.size() == 1);
  CHECK(out.policy.rules[0].line == 5);
  CHECK(out.policy.rules[0].comments == std::vector<std::string>{"indented comment"});
  CHECK(to_string(out.policy) == "# indented comment\nmeasure func=BPRM_CHECK\n");
  CHECK(parse_policy("").policy.rules.empty());
  auto bad = parse_policy_strict("measure\n\nmeasure func=NOPE\n", "p.policy");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message().rfind("p.policy:3:9: error: unknown func `NOPE`", 0) == 0);
}

TEST_CASE("grammar: token_since names the first kernel of each token", "[policy][grammar]") {
  CHECK(token_since("measure") == KernelVersion{0, 0});
  CHECK(token_since("func=SETXATTR_CHECK") == KernelVersion{5, 15});
  CHECK(token_since("func=CRITICAL_DATA") == KernelVersion{5, 12});
  CHECK(token_since("template=ima-sigv2") == KernelVersion{5, 19});
  CHECK(token_since("appraise_type=sigv3") == KernelVersion{5, 19});
  CHECK(token_since("keyrings=") == KernelVersion{5, 6});
  CHECK_FALSE(token_since("bogus=1").has_value());
  auto v = KernelVersion::parse("6.1.0-21-amd64");
  REQUIRE(v.ok());
  CHECK(*v == KernelVersion{6, 1});
  CHECK_FALSE(KernelVersion::parse("six").ok());
}

TEST_CASE("validate_rule checks rules built in code", "[policy][grammar]") {
  Rule r;
  r.action = Action::appraise;
  r.pcr = 3;
  auto d = validate_rule(r);
  REQUIRE(d.has_value());
  CHECK(d->message == "`pcr=3`: pcr= is only valid with `measure`");
  r.pcr.reset();
  r.func = Func::critical_data;
  d = validate_rule(r);
  REQUIRE(d.has_value());
  CHECK(d->message == "`appraise`: func=CRITICAL_DATA only takes measure or dont_measure");
  r.action = Action::measure;
  CHECK_FALSE(validate_rule(r).has_value());
  d = validate_rule(r, kernel(5, 10));
  REQUIRE(d.has_value());
  CHECK(d->message == "`func=CRITICAL_DATA`: needs Linux 5.12 or later (target kernel 5.10)");
}
