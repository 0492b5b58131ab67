// Evaluating a policy for one access, with the kernel's semantics
// (ima_match_policy / ima_match_rules): rules are tried in order; for each
// action class (measure, appraise, audit, hash) the first matching rule of that
// class decides, and evaluation stops once every class is decided. Options
// (pcr, template, appraise_algos) come from the rule that decided; flags such
// as appraise_type or permit_directio are OR-ed over all rules that matched.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "imashim/policy/policy.hpp"

namespace imashim::policy {

// One access: what the kernel passes to ima_match_policy().
struct Access {
  Func func = Func::file_check;
  std::uint32_t mask = kMayRead;  // MAY_* bits of the access
  // Subject credentials.
  std::uint32_t uid = 0, euid = 0, suid = 0;
  std::uint32_t gid = 0, egid = 0, sgid = 0;
  bool cap_setuid = false;  // with CAP_SETUID, euid= also matches suid and uid
  bool cap_setgid = false;
  // The file (its inode and superblock).
  std::uint32_t fowner = 0, fgroup = 0;
  std::uint64_t fsmagic = 0;
  std::string fsname;
  std::optional<Uuid> fsuuid;
  // KEY_CHECK: the keyring name; CRITICAL_DATA: the data's label.
  std::optional<std::string> func_data;
  // LSM labels of the object and subject; an empty label matches no condition.
  std::array<std::string, kLsmFieldCount> lsm;
};

struct ClassDecision {
  bool act = false;                 // the class's "do" action applies
  std::optional<std::size_t> rule;  // index of the deciding rule; nullopt: no rule matched
};

struct Decision {
  std::array<ClassDecision, kActionClassCount> classes;  // indexed by ActionClass
  std::optional<int> pcr;                     // nullopt: the kernel's default (10)
  std::optional<std::string> template_name;   // nullopt: the boot template
  std::optional<AppraiseType> appraise_type;  // signature required (imasig, ...)
  bool digest_verity = false;
  bool check_blacklist = false;
  bool permit_directio = false;
  bool fail_unverifiable_sigs = false;
  std::optional<std::uint32_t> appraise_algos;  // allowed xattr hash algorithms

  const ClassDecision& of(ActionClass c) const { return classes[static_cast<int>(c)]; }
  bool measure() const { return of(ActionClass::measure).act; }
  bool appraise() const { return of(ActionClass::appraise).act; }
  bool audit() const { return of(ActionClass::audit).act; }
  bool hash() const { return of(ActionClass::hash).act; }
};

// Whether one rule's conditions match the access (ima_match_rules).
bool rule_matches(const Rule& rule, const Access& access);
// The decision for an access.
Decision evaluate(const Policy& policy, const Access& access);

}  // namespace imashim::policy
