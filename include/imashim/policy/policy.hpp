// The IMA policy language: rules as the kernel parses them
// (security/integrity/ima/ima_policy.c, Documentation/ABI/testing/ima_policy),
// a strict parser with line/column diagnostics, and a canonical printer.
//
// One rule per line: `action [condition ...] [option ...]`; `#` starts a
// comment line; blank lines are skipped. The parser follows the kernel token by
// token, including its order dependencies (template= needs `measure` before it,
// appraise_type=sigv3 needs digest_type=verity before it), then validates the
// whole rule the way ima_validate_rule() does. A rule this parser accepts is a
// rule the target kernel accepts; tokens the kernel tolerates but that are
// dubious (a repeated pcr=, the old names PATH_CHECK/FILE_MMAP) are warnings.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/util/result.hpp"

namespace imashim::policy {

// Rule actions. Values are the kernel's action bits (MEASURE 0x1, ...).
enum class Action : std::uint16_t {
  measure = 0x0001,
  dont_measure = 0x0002,
  appraise = 0x0004,
  dont_appraise = 0x0008,
  audit = 0x0040,
  hash = 0x0100,
  dont_hash = 0x0200,
};
std::string_view action_name(Action a);
std::optional<Action> action_from_name(std::string_view name);

// The four decisions a policy makes for one access; each has a "do" and
// (except audit) a "dont" action, and the first matching rule decides.
enum class ActionClass : std::uint8_t { measure, appraise, audit, hash };
inline constexpr int kActionClassCount = 4;
std::string_view action_class_name(ActionClass c);
ActionClass action_class(Action a);
// measure, appraise, audit, hash: the actions that do something.
bool is_do_action(Action a);

// IMA hooks (enum ima_hooks), in the kernel's order.
enum class Func : std::uint8_t {
  none = 0,
  file_check,
  mmap_check,
  mmap_check_reqprot,
  bprm_check,
  creds_check,
  post_setattr,
  module_check,
  firmware_check,
  kexec_kernel_check,
  kexec_initramfs_check,
  policy_check,
  kexec_cmdline,
  key_check,
  critical_data,
  setxattr_check,
};
// Canonical name ("BPRM_CHECK"); none and post_setattr have no policy name.
std::string_view func_name(Func f);
// Accepts the canonical names and the old ones (PATH_CHECK, FILE_MMAP).
std::optional<Func> func_from_name(std::string_view name);

// Access mask bits (include/linux/fs.h).
inline constexpr std::uint32_t kMayExec = 0x1;
inline constexpr std::uint32_t kMayWrite = 0x2;
inline constexpr std::uint32_t kMayRead = 0x4;
inline constexpr std::uint32_t kMayAppend = 0x8;
std::string_view mask_name(std::uint32_t bit);  // "MAY_EXEC", ...
std::optional<std::uint32_t> mask_from_name(std::string_view name);

// mask=MAY_READ matches exactly that mask; mask=^MAY_READ matches any access
// whose mask contains the bit.
struct MaskCond {
  std::uint32_t bit = 0;
  bool any = false;  // the `^` form
  bool operator==(const MaskCond&) const = default;
};

enum class IdOp : std::uint8_t { eq, gt, lt };
struct IdCond {
  IdOp op = IdOp::eq;
  std::uint32_t value = 0;
  bool matches(std::uint32_t id) const;
  bool operator==(const IdCond&) const = default;
};

using Uuid = std::array<std::uint8_t, 16>;
std::string uuid_to_string(const Uuid& u);
std::optional<Uuid> uuid_from_string(std::string_view s);

enum class AppraiseType : std::uint8_t { imasig, imasig_modsig, sigv3 };
std::string_view appraise_type_name(AppraiseType t);

// LSM conditions, in the kernel's order (enum lsm_rule_types).
enum class LsmField : std::uint8_t { obj_user, obj_role, obj_type, subj_user, subj_role, subj_type };
inline constexpr int kLsmFieldCount = 6;

// One rule. Conditions and options that are absent are nullopt/false/empty.
// uid/euid share one kernel slot (so do gid/egid): a rule has at most one of each pair.
struct Rule {
  Action action = Action::measure;
  std::optional<Func> func;
  std::optional<MaskCond> mask;
  std::optional<std::uint64_t> fsmagic;
  std::optional<std::string> fsname;
  std::optional<std::vector<std::string>> keyrings;  // `|`-separated
  std::optional<std::vector<std::string>> label;     // `|`-separated
  std::optional<int> pcr;
  std::optional<Uuid> fsuuid;
  std::optional<IdCond> uid, euid, gid, egid, fowner, fgroup;
  std::optional<std::uint32_t> appraise_algos;  // bit per kernel hash id
  std::array<std::optional<std::string>, kLsmFieldCount> lsm;
  std::optional<std::string> template_name;
  std::optional<AppraiseType> appraise_type;
  bool digest_verity = false;    // digest_type=verity
  bool check_blacklist = false;  // appraise_flag=check_blacklist
  bool permit_directio = false;

  // `#` lines directly above the rule, without the `#` and one leading space.
  std::vector<std::string> comments;
  int line = 0;  // 1-based source line, 0 when built in code

  bool operator==(const Rule& o) const;  // compares the rule, not comments/line
};

// A whole policy: rules in order. fail_unverifiable_sigs is the
// ima_policy=fail_securely switch (no rule of its own).
struct Policy {
  std::vector<Rule> rules;
  bool fail_unverifiable_sigs = false;
};

// A kernel release, for flagging tokens an older kernel does not know.
struct KernelVersion {
  int major = 0;
  int minor = 0;
  auto operator<=>(const KernelVersion&) const = default;
  std::string to_string() const;
  static Result<KernelVersion> parse(std::string_view text);  // "6.1", "5.10.0-21-amd64"
};

// What the target kernel supports besides its version (its build options).
struct KernelFeatures {
  // nullopt: any kernel; every token is known and the strictest rules apply
  // (appraise_flag=check_blacklist still needs imasig|modsig, as before 6.6).
  std::optional<KernelVersion> version;
  bool modsig = true;           // CONFIG_IMA_APPRAISE_MODSIG: imasig|modsig, appraise_flag
  bool asymmetric_keys = true;  // CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS: KEY_CHECK, keyrings=
  // An LSM that defines the labels used in subj_*/obj_* conditions. Without one,
  // the kernel rejects such rules while the boot policy is active.
  bool lsm_rules = true;
};

// A target by name: a release ("5.4", "6.1.0-21-amd64") or a distribution
// kernel whose build options are known: "debian-12" (6.1, no
// CONFIG_IMA_APPRAISE_MODSIG, CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS on).
Result<KernelFeatures> kernel_target(std::string_view name);

struct Diagnostic {
  enum class Severity : std::uint8_t { error, warning };
  Severity severity = Severity::error;
  int line = 0;    // 1-based, 0 = no position
  int column = 0;  // 1-based column of the offending token, 0 = whole rule
  std::string token;
  std::string message;
  // "LINE:COL: error: MESSAGE" (`source:` prefixed when given).
  std::string format(std::string_view source = {}) const;
};

struct ParseOutput {
  Policy policy;  // the rules that parsed; bad rules are left out
  std::vector<Diagnostic> diagnostics;
  bool ok() const;  // no errors (warnings allowed)
  const Diagnostic* first_error() const;
};

// Parses a whole policy text: every line, all errors reported.
ParseOutput parse_policy(std::string_view text, const KernelFeatures& features = {});
// Parses one rule line (no comment, no newline). `line` only labels diagnostics.
Result<Rule> parse_rule(std::string_view text, const KernelFeatures& features = {}, int line = 0);
// parse_policy that fails on the first error: "SOURCE:LINE:COL: message".
Result<Policy> parse_policy_strict(std::string_view text, std::string_view source,
                                   const KernelFeatures& features = {});

// Checks a rule built in code as the kernel would (ima_validate_rule + tokens
// the target kernel knows). The Diagnostic names the offending key.
std::optional<Diagnostic> validate_rule(const Rule& rule, const KernelFeatures& features = {});

enum class WithComments : bool { no, yes };
// One rule, canonical: keys in the kernel's ima_policy_show() order, single
// spaces, no trailing space. (Unlike the kernel, digest_type=verity is printed
// before appraise_type, so that the output parses back.)
std::string to_string(const Rule& rule);
// The policy, one rule per line, comments as `# ` lines above their rule.
std::string to_string(const Policy& policy, WithComments comments = WithComments::yes);

// The kernel release that first accepted a token ("func=SETXATTR_CHECK",
// "template=", "measure", ...); nullopt for unknown tokens.
std::optional<KernelVersion> token_since(std::string_view token);

}  // namespace imashim::policy
