// ima_match_policy() / ima_match_rules() in userspace.
#include "imashim/policy/evaluate.hpp"

#include <algorithm>

namespace imashim::policy {
namespace {

bool list_has(const std::optional<std::vector<std::string>>& list, const std::optional<std::string>& item) {
  if (!list) return true;  // no list: every keyring / label
  if (!item) return false;
  return std::find(list->begin(), list->end(), *item) != list->end();
}

// KEY_CHECK and CRITICAL_DATA rules match on the hook, uid and the data's
// keyring or label only (ima_match_rule_data).
bool match_data_rule(const Rule& r, const Access& a) {
  if (r.func != a.func) return false;
  if (r.uid && !r.uid->matches(a.uid)) return false;
  return a.func == Func::key_check ? list_has(r.keyrings, a.func_data) : list_has(r.label, a.func_data);
}

// euid=/egid= also match the saved and real ids of a task allowed to switch to them.
bool match_effective(const IdCond& c, std::uint32_t eff, std::uint32_t saved, std::uint32_t real, bool cap) {
  if (cap) return c.matches(eff) || c.matches(saved) || c.matches(real);
  return c.matches(eff);
}

bool match_mask(const MaskCond& m, std::uint32_t mask) {
  return m.any ? (m.bit & mask) != 0 : m.bit == mask;
}

bool match_lsm(const Rule& r, const Access& a) {
  for (int i = 0; i < kLsmFieldCount; ++i)
    if (r.lsm[i] && (a.lsm[i].empty() || *r.lsm[i] != a.lsm[i])) return false;
  return true;
}

}  // namespace

bool rule_matches(const Rule& r, const Access& a) {
  if (r.func && *r.func != a.func && a.func != Func::post_setattr) return false;
  if (a.func == Func::key_check || a.func == Func::critical_data) return match_data_rule(r, a);
  bool setattr = a.func == Func::post_setattr;
  if (r.mask && !setattr && !match_mask(*r.mask, a.mask)) return false;
  if (r.fsmagic && *r.fsmagic != a.fsmagic) return false;
  if (r.fsname && *r.fsname != a.fsname) return false;
  if (r.fsuuid && (!a.fsuuid || *r.fsuuid != *a.fsuuid)) return false;
  if (r.uid && !r.uid->matches(a.uid)) return false;
  if (r.euid && !match_effective(*r.euid, a.euid, a.suid, a.uid, a.cap_setuid)) return false;
  if (r.gid && !r.gid->matches(a.gid)) return false;
  if (r.egid && !match_effective(*r.egid, a.egid, a.sgid, a.gid, a.cap_setgid)) return false;
  if (r.fowner && !r.fowner->matches(a.fowner)) return false;
  if (r.fgroup && !r.fgroup->matches(a.fgroup)) return false;
  return match_lsm(r, a);
}

Decision evaluate(const Policy& policy, const Access& access) {
  Decision d;
  std::array<bool, kActionClassCount> decided{};
  int open = kActionClassCount;
  for (std::size_t i = 0; i < policy.rules.size() && open > 0; ++i) {
    const Rule& r = policy.rules[i];
    int cls = static_cast<int>(action_class(r.action));
    if (decided[cls] || !rule_matches(r, access)) continue;
    // Flags of every matching rule accumulate (IMA_NONACTION_FLAGS).
    if (r.appraise_type && (!d.appraise_type || *r.appraise_type == AppraiseType::imasig_modsig))
      d.appraise_type = r.appraise_type;
    d.digest_verity |= r.digest_verity;
    d.check_blacklist |= r.check_blacklist;
    d.permit_directio |= r.permit_directio;
    decided[cls] = true;
    --open;
    d.classes[cls] = {is_do_action(r.action), i};
    if (r.action == Action::appraise) {
      // An appraised file is hashed anyway: the kernel drops IMA_HASH here.
      d.classes[static_cast<int>(ActionClass::hash)].act = false;
      d.fail_unverifiable_sigs = policy.fail_unverifiable_sigs;
      if (r.appraise_algos) d.appraise_algos = r.appraise_algos;
    }
    if (r.pcr) d.pcr = r.pcr;
    if (r.template_name) d.template_name = r.template_name;
  }
  return d;
}

}  // namespace imashim::policy
