// The policy grammar: one table of keys drives parsing, validation and
// printing. Semantics follow ima_parse_rule() / ima_validate_rule() /
// ima_policy_show() of security/integrity/ima/ima_policy.c.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

#include "imashim/formats/hash.hpp"
#include "imashim/policy/policy.hpp"

namespace imashim::policy {
namespace {

// The kernel's rule flag bits, plus two of ours (kLsm, kTemplate) that the
// kernel tracks elsewhere, so one bit set describes what a rule carries.
enum : std::uint32_t {
  kFunc = 0x0001,
  kMask = 0x0002,
  kFsmagic = 0x0004,
  kUid = 0x0008,
  kFowner = 0x0010,
  kFsuuid = 0x0020,
  kInmask = 0x0040,
  kEuid = 0x0080,
  kPcr = 0x0100,
  kFsname = 0x0200,
  kKeyrings = 0x0400,
  kLabel = 0x0800,
  kAlgos = 0x1000,
  kGid = 0x2000,
  kEgid = 0x4000,
  kFgroup = 0x8000,
  kLsm = 0x00010000,
  kTemplate = 0x00020000,
  kDigsig = 0x01000000,
  kDirectio = 0x02000000,
  kModsig = 0x10000000,
  kBlacklist = 0x40000000,
  kVerity = 0x80000000,
};

constexpr KernelVersion kOld{0, 0};  // in every kernel this project targets (5.4 and later)

// ----- tokens ---------------------------------------------------------------

struct Token {
  std::string_view text;
  int column = 0;
  std::string_view name;   // before the operator; the whole token for bare words
  char op = 0;             // '=', '<', '>' or 0
  std::string_view value;  // after the operator
};

Token split_token(std::string_view text, int column) {
  Token t{text, column, text, 0, {}};
  auto pos = text.find_first_of("=<>");
  if (pos == std::string_view::npos) return t;
  t.name = text.substr(0, pos);
  t.op = text[pos];
  t.value = text.substr(pos + 1);
  return t;
}

// ----- numbers as the kernel reads them (kstrtoul / kstrtoint) ---------------

std::optional<std::uint64_t> kernel_strtoull(std::string_view s, int base) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (base == 16 && s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    s.remove_prefix(2);
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::int64_t> kernel_strtoll(std::string_view s) {
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  auto v = kernel_strtoull(s, 10);
  if (!v || *v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return std::nullopt;
  return neg ? -static_cast<std::int64_t>(*v) : static_cast<std::int64_t>(*v);
}

std::optional<std::vector<std::string>> split_list(std::string_view s, char sep) {
  std::vector<std::string> items;
  while (true) {
    auto pos = s.find(sep);
    auto item = s.substr(0, pos);
    if (item.empty()) return std::nullopt;
    items.emplace_back(item);
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return items;
}

// ----- versioned values -------------------------------------------------------

struct Versioned {
  std::string_view name;
  KernelVersion since;
};
constexpr std::array<Versioned, 14> kFuncSince{{
    {"FILE_CHECK", kOld},          {"PATH_CHECK", kOld},
    {"MMAP_CHECK", kOld},          {"FILE_MMAP", kOld},
    {"BPRM_CHECK", kOld},          {"CREDS_CHECK", kOld},
    {"MODULE_CHECK", kOld},        {"FIRMWARE_CHECK", kOld},
    {"KEXEC_KERNEL_CHECK", kOld},  {"KEXEC_INITRAMFS_CHECK", kOld},
    {"POLICY_CHECK", kOld},        {"KEXEC_CMDLINE", kOld},
    {"KEY_CHECK", {5, 6}},         {"CRITICAL_DATA", {5, 12}},
}};
constexpr Versioned kSetxattrSince{"SETXATTR_CHECK", {5, 15}};
constexpr Versioned kReqprotSince{"MMAP_CHECK_REQPROT", {6, 4}};

// Built-in template descriptors (ima_template.c builtin_templates[]).
constexpr std::array<Versioned, 8> kTemplates{{
    {"ima", kOld},
    {"ima-ng", kOld},
    {"ima-sig", kOld},
    {"ima-buf", kOld},
    {"ima-modsig", kOld},
    {"evm-sig", {5, 13}},
    {"ima-ngv2", {5, 19}},
    {"ima-sigv2", {5, 19}},
}};

KernelVersion func_since(std::string_view name) {
  for (const auto& f : kFuncSince)
    if (f.name == name) return f.since;
  if (name == kSetxattrSince.name) return kSetxattrSince.since;
  if (name == kReqprotSince.name) return kReqprotSince.since;
  return kOld;
}

// ----- the parse state ------------------------------------------------------

// Whether the target kernel knows a token introduced in `since`.
bool knows(const KernelFeatures& f, KernelVersion since) { return !f.version || *f.version >= since; }
// Since 6.6 the blacklist is always checked and appraise_flag= is ignored.
bool blacklist_always_on(const KernelFeatures& f) { return f.version && *f.version >= KernelVersion{6, 6}; }

struct State {
  Rule& rule;
  const KernelFeatures& features;
  std::vector<Diagnostic>& warnings;
  const Token& token;
  int line;
  bool action_set = false;

  void warn(std::string message) const {
    warnings.push_back({Diagnostic::Severity::warning, line, token.column, std::string(token.text),
                        std::move(message)});
  }
  std::optional<std::string> need(KernelVersion since, std::string_view what) const {
    if (knows(features, since)) return std::nullopt;
    return fmt::format("`{}` needs Linux {} or later (target kernel {})", what, since.to_string(),
                       features.version->to_string());
  }
};

using Error = std::optional<std::string>;
constexpr Error kOk = std::nullopt;

Error duplicate(const State& s) {
  return fmt::format("duplicate `{}=`: a rule takes it once", s.token.name);
}

// ----- per-key parsers -----------------------------------------------------------

Error parse_func(State& s, std::string_view v) {
  if (s.rule.func) return duplicate(s);
  auto f = func_from_name(v);
  if (!f)
    return fmt::format(
        "unknown func `{}` (BPRM_CHECK, MMAP_CHECK, MMAP_CHECK_REQPROT, CREDS_CHECK, FILE_CHECK, "
        "MODULE_CHECK, FIRMWARE_CHECK, KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, KEXEC_CMDLINE, "
        "KEY_CHECK, CRITICAL_DATA, SETXATTR_CHECK, POLICY_CHECK)",
        v);
  if (auto e = s.need(func_since(v), fmt::format("func={}", v))) return e;
  if (*f == Func::key_check && !s.features.asymmetric_keys)
    return "func=KEY_CHECK needs CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS in the target kernel";
  if (v != func_name(*f))
    s.warn(fmt::format("func={} is the old name of func={}", v, func_name(*f)));
  s.rule.func = *f;
  return kOk;
}

Error parse_mask(State& s, std::string_view v) {
  if (s.rule.mask) return duplicate(s);
  MaskCond m;
  if (!v.empty() && v[0] == '^') {
    m.any = true;
    v.remove_prefix(1);
  }
  auto bit = mask_from_name(v);
  if (!bit) return fmt::format("unknown mask `{}` (MAY_EXEC, MAY_WRITE, MAY_READ, MAY_APPEND)", v);
  m.bit = *bit;
  s.rule.mask = m;
  return kOk;
}

Error parse_fsmagic(State& s, std::string_view v) {
  if (s.rule.fsmagic) return duplicate(s);
  auto n = kernel_strtoull(v, 16);
  if (!n) return fmt::format("fsmagic `{}` is not a hexadecimal number", v);
  s.rule.fsmagic = *n;
  return kOk;
}

Error parse_fsname(State& s, std::string_view v) {
  if (s.rule.fsname) s.warn("repeated fsname=: the kernel keeps the last one");
  s.rule.fsname = std::string(v);
  return kOk;
}

Error parse_list(State& s, std::optional<std::vector<std::string>>& field, std::string_view v) {
  if (field) return duplicate(s);
  auto items = split_list(v, '|');
  if (!items) return fmt::format("`{}` has an empty item in its `|`-separated list", s.token.text);
  field = std::move(*items);
  return kOk;
}

Error parse_keyrings(State& s, std::string_view v) {
  if (!s.features.asymmetric_keys)
    return "keyrings= needs CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS in the target kernel";
  return parse_list(s, s.rule.keyrings, v);
}
Error parse_label(State& s, std::string_view v) { return parse_list(s, s.rule.label, v); }

Error parse_pcr(State& s, std::string_view v) {
  auto n = kernel_strtoll(v);
  if (!n || *n < 0 || *n > 63) return fmt::format("pcr `{}` is not a PCR index 0..63", v);
  if (s.rule.pcr) s.warn("repeated pcr=: the kernel keeps the last one");
  s.rule.pcr = static_cast<int>(*n);
  return kOk;
}

Error parse_fsuuid(State& s, std::string_view v) {
  if (s.rule.fsuuid) return duplicate(s);
  auto u = uuid_from_string(v);
  if (!u) return fmt::format("fsuuid `{}` is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", v);
  s.rule.fsuuid = *u;
  return kOk;
}

// uid/euid share one slot in the kernel's rule, as do gid/egid.
Error parse_id(State&, IdOp op, std::string_view v, std::optional<IdCond>& field,
               const std::optional<IdCond>& sibling, std::string_view slot) {
  if (field || sibling) return fmt::format("a rule takes one {} condition", slot);
  auto n = kernel_strtoull(v, 10);
  if (!n || *n >= 0xffffffffULL)
    return fmt::format("`{}` is not a valid id (decimal 0..4294967294)", v);
  field = IdCond{op, static_cast<std::uint32_t>(*n)};
  return kOk;
}

Error parse_algos(State& s, std::string_view v) {
  if (s.rule.appraise_algos) return duplicate(s);
  std::uint32_t bits = 0;
  std::string_view rest = v;
  while (true) {
    auto pos = rest.find(',');
    auto name = rest.substr(0, pos);
    auto algo = formats::hash_algo_from_name(name);
    if (!algo || formats::hash_algo_name(*algo) != name)
      return fmt::format("unknown hash algorithm `{}` in appraise_algos", name);
    bits |= 1U << static_cast<unsigned>(*algo);
    if (pos == std::string_view::npos) break;
    rest.remove_prefix(pos + 1);
  }
  s.rule.appraise_algos = bits;
  return kOk;
}

Error parse_lsm(State& s, LsmField f, std::string_view v) {
  auto& field = s.rule.lsm[static_cast<int>(f)];
  if (field) return duplicate(s);
  if (!s.features.lsm_rules)
    return fmt::format("`{}=`: no LSM in the target kernel defines this label", s.token.name);
  field = std::string(v);
  return kOk;
}

Error parse_template(State& s, std::string_view v) {
  if (!s.action_set || s.rule.action != Action::measure)
    return "template= is only valid after `measure`";
  auto it = std::find_if(kTemplates.begin(), kTemplates.end(),
                         [&](const Versioned& t) { return t.name == v; });
  if (it == kTemplates.end())
    return fmt::format(
        "unknown template `{}` (ima, ima-ng, ima-ngv2, ima-sig, ima-sigv2, ima-buf, ima-modsig, "
        "evm-sig)",
        v);
  if (s.rule.template_name) return duplicate(s);
  if (auto e = s.need(it->since, fmt::format("template={}", v))) return e;
  s.rule.template_name = std::string(v);
  return kOk;
}

Error parse_digest_type(State& s, std::string_view v) {
  if (s.rule.appraise_type) return "digest_type= must come before appraise_type=";
  if (v != "verity") return fmt::format("unknown digest_type `{}` (verity)", v);
  if (s.rule.digest_verity) s.warn("repeated digest_type=verity");
  s.rule.digest_verity = true;
  return kOk;
}

Error parse_appraise_type(State& s, std::string_view v) {
  AppraiseType t;
  if (v == "imasig") {
    if (s.rule.digest_verity) return "appraise_type=imasig cannot follow digest_type=verity (use sigv3)";
    t = AppraiseType::imasig;
  } else if (v == "sigv3") {
    if (auto e = s.need({5, 19}, "appraise_type=sigv3")) return e;
    if (!s.rule.digest_verity) return "appraise_type=sigv3 needs digest_type=verity before it";
    t = AppraiseType::sigv3;
  } else if (v == "imasig|modsig" && s.features.modsig) {
    if (s.rule.digest_verity) return "appraise_type=imasig|modsig cannot follow digest_type=verity";
    t = AppraiseType::imasig_modsig;
  } else {
    return fmt::format("unknown appraise_type `{}` (imasig, imasig|modsig, sigv3){}", v,
                       v == "imasig|modsig" ? ": the target kernel lacks CONFIG_IMA_APPRAISE_MODSIG"
                                            : "");
  }
  if (s.rule.appraise_type) {
    s.warn("repeated appraise_type=: the kernel combines them");
    if (*s.rule.appraise_type == AppraiseType::imasig_modsig) t = AppraiseType::imasig_modsig;
  }
  s.rule.appraise_type = t;
  return kOk;
}

Error parse_appraise_flag(State& s, std::string_view v) {
  if (blacklist_always_on(s.features)) {
    // Since 6.6 every signature check consults the blacklist; the option is read and ignored.
    s.warn("appraise_flag= is ignored since Linux 6.6 (the blacklist is always checked)");
    return kOk;
  }
  if (!s.features.modsig || v.find("blacklist") == std::string_view::npos)
    return fmt::format("unknown appraise_flag `{}` (check_blacklist){}", v,
                       s.features.modsig ? "" : ": the target kernel lacks CONFIG_IMA_APPRAISE_MODSIG");
  if (v != "check_blacklist") s.warn(fmt::format("appraise_flag={} is read as check_blacklist", v));
  s.rule.check_blacklist = true;
  return kOk;
}

Error parse_directio(State& s, std::string_view) {
  if (s.rule.permit_directio) s.warn("repeated permit_directio");
  s.rule.permit_directio = true;
  return kOk;
}

// ----- printers -------------------------------------------------------------------

using Out = std::vector<std::string>;

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "|" : "") + items[i];
  return out;
}

std::string id_token(std::string_view key, const IdCond& c) {
  char op = c.op == IdOp::gt ? '>' : c.op == IdOp::lt ? '<' : '=';
  return fmt::format("{}{}{}", key, op, c.value);
}

std::string algos_text(std::uint32_t bits) {
  std::string out;
  for (int i = 0; i < formats::kHashAlgoCount; ++i) {
    if (!(bits & (1U << i))) continue;
    if (!out.empty()) out += ',';
    out += formats::hash_algo_name(static_cast<formats::HashAlgo>(i));
  }
  return out;
}

// ----- the key table --------------------------------------------------------------

enum class Shape : std::uint8_t { bare, value, compare };

struct KeyDef {
  std::string_view name;
  Shape shape;
  std::uint32_t flags;  // flag bits this key sets
  KernelVersion since;
  Error (*parse)(State&, IdOp, std::string_view);
  void (*print)(const Rule&, Out&);
};

#define IDKEY(NAME, FLAG, SIBLING, SLOT, SINCE)                                               \
  KeyDef {                                                                              \
    #NAME, Shape::compare, FLAG, SINCE,                                                 \
        [](State& s, IdOp op, std::string_view v) {                                     \
          return parse_id(s, op, v, s.rule.NAME, s.rule.SIBLING, SLOT);                       \
        },                                                                              \
        [](const Rule& r, Out& o) {                                                     \
          if (r.NAME) o.push_back(id_token(#NAME, *r.NAME));                            \
        }                                                                               \
  }
#define LSMKEY(NAME)                                                                            \
  KeyDef {                                                                                      \
    #NAME, Shape::value, kLsm, kOld,                                                            \
        [](State& s, IdOp, std::string_view v) { return parse_lsm(s, LsmField::NAME, v); },     \
        [](const Rule& r, Out& o) {                                                             \
          if (const auto& l = r.lsm[static_cast<int>(LsmField::NAME)]) o.push_back(#NAME "=" + *l); \
        }                                                                                       \
  }

// In ima_policy_show() order: printing walks this table top to bottom.
const std::array<KeyDef, 26> kKeys{{
    {"func", Shape::value, kFunc, kOld,
     [](State& s, IdOp, std::string_view v) { return parse_func(s, v); },
     [](const Rule& r, Out& o) {
       if (r.func) o.push_back(fmt::format("func={}", func_name(*r.func)));
     }},
    {"mask", Shape::value, kMask | kInmask, kOld,
     [](State& s, IdOp, std::string_view v) { return parse_mask(s, v); },
     [](const Rule& r, Out& o) {
       if (r.mask) o.push_back(fmt::format("mask={}{}", r.mask->any ? "^" : "", mask_name(r.mask->bit)));
     }},
    {"fsmagic", Shape::value, kFsmagic, kOld,
     [](State& s, IdOp, std::string_view v) { return parse_fsmagic(s, v); },
     [](const Rule& r, Out& o) {
       if (r.fsmagic) o.push_back(fmt::format("fsmagic=0x{:x}", *r.fsmagic));
     }},
    {"fsname", Shape::value, kFsname, kOld,
     [](State& s, IdOp, std::string_view v) { return parse_fsname(s, v); },
     [](const Rule& r, Out& o) {
       if (r.fsname) o.push_back("fsname=" + *r.fsname);
     }},
    {"keyrings", Shape::value, kKeyrings, {5, 6},
     [](State& s, IdOp, std::string_view v) { return parse_keyrings(s, v); },
     [](const Rule& r, Out& o) {
       if (r.keyrings) o.push_back("keyrings=" + join_list(*r.keyrings));
     }},
    {"label", Shape::value, kLabel, {5, 12},
     [](State& s, IdOp, std::string_view v) { return parse_label(s, v); },
     [](const Rule& r, Out& o) {
       if (r.label) o.push_back("label=" + join_list(*r.label));
     }},
    {"pcr", Shape::value, kPcr, kOld,
     [](State& s, IdOp, std::string_view v) { return parse_pcr(s, v); },
     [](const Rule& r, Out& o) {
       if (r.pcr) o.push_back(fmt::format("pcr={}", *r.pcr));
     }},
    {"fsuuid", Shape::value, kFsuuid, kOld,
     [](State& s, IdOp, std::string_view v) { return parse_fsuuid(s, v); },
     [](const Rule& r, Out& o) {
       if (r.fsuuid) o.push_back("fsuuid=" + uuid_to_string(*r.fsuuid));
     }},
    IDKEY(uid, kUid, euid, "uid/euid", kOld),
    IDKEY(euid, kEuid, uid, "uid/euid", kOld),
    IDKEY(gid, kGid, egid, "gid/egid", (KernelVersion{5, 16})),
    IDKEY(egid, kEgid, gid, "gid/egid", (KernelVersion{5, 16})),
    IDKEY(fowner, kFowner, fowner, "fowner", kOld),
    IDKEY(fgroup, kFgroup, fgroup, "fgroup", (KernelVersion{5, 16})),
    {"appraise_algos", Shape::value, kAlgos, {5, 15},
     [](State& s, IdOp, std::string_view v) { return parse_algos(s, v); },
     [](const Rule& r, Out& o) {
       if (r.appraise_algos) o.push_back("appraise_algos=" + algos_text(*r.appraise_algos));
     }},
    LSMKEY(obj_user),
    LSMKEY(obj_role),
    LSMKEY(obj_type),
    LSMKEY(subj_user),
    LSMKEY(subj_role),
    LSMKEY(subj_type),
    {"template", Shape::value, kTemplate, {5, 5},
     [](State& s, IdOp, std::string_view v) { return parse_template(s, v); },
     [](const Rule& r, Out& o) {
       if (r.template_name) o.push_back("template=" + *r.template_name);
     }},
    {"digest_type", Shape::value, kVerity, {5, 19},
     [](State& s, IdOp, std::string_view v) { return parse_digest_type(s, v); },
     [](const Rule& r, Out& o) {
       if (r.digest_verity) o.push_back("digest_type=verity");
     }},
    {"appraise_type", Shape::value, kDigsig | kModsig, kOld,
     [](State& s, IdOp, std::string_view v) { return parse_appraise_type(s, v); },
     [](const Rule& r, Out& o) {
       if (r.appraise_type)
         o.push_back(fmt::format("appraise_type={}", appraise_type_name(*r.appraise_type)));
     }},
    {"appraise_flag", Shape::value, kBlacklist, {5, 5},
     [](State& s, IdOp, std::string_view v) { return parse_appraise_flag(s, v); },
     [](const Rule& r, Out& o) {
       if (r.check_blacklist) o.push_back("appraise_flag=check_blacklist");
     }},
    {"permit_directio", Shape::bare, kDirectio, kOld,
     [](State& s, IdOp, std::string_view v) { return parse_directio(s, v); },
     [](const Rule& r, Out& o) {
       if (r.permit_directio) o.push_back("permit_directio");
     }},
}};
#undef IDKEY
#undef LSMKEY

const KeyDef* find_key(std::string_view name) {
  for (const auto& k : kKeys)
    if (k.name == name) return &k;
  return nullptr;
}

// ----- whole-rule validation (ima_validate_rule) ---------------------------------

std::uint32_t rule_flags(const Rule& r) {
  std::uint32_t f = 0;
  auto set = [&f](bool cond, std::uint32_t bit) { f |= cond ? bit : 0; };
  set(r.func.has_value(), kFunc);
  set(r.mask && !r.mask->any, kMask);
  set(r.mask && r.mask->any, kInmask);
  set(r.fsmagic.has_value(), kFsmagic);
  set(r.uid.has_value(), kUid);
  set(r.euid.has_value(), kEuid);
  set(r.gid.has_value(), kGid);
  set(r.egid.has_value(), kEgid);
  set(r.fowner.has_value(), kFowner);
  set(r.fgroup.has_value(), kFgroup);
  set(r.fsuuid.has_value(), kFsuuid);
  set(r.pcr.has_value(), kPcr);
  set(r.fsname.has_value(), kFsname);
  set(r.keyrings.has_value(), kKeyrings);
  set(r.label.has_value(), kLabel);
  set(r.appraise_algos.has_value(), kAlgos);
  set(std::any_of(r.lsm.begin(), r.lsm.end(), [](const auto& l) { return l.has_value(); }), kLsm);
  set(r.template_name.has_value(), kTemplate);
  set(r.appraise_type.has_value(), kDigsig);
  set(r.appraise_type == AppraiseType::imasig_modsig, kModsig);
  set(r.check_blacklist, kBlacklist);
  set(r.digest_verity, kVerity);
  set(r.permit_directio, kDirectio);
  return f;
}

constexpr std::uint32_t kFileHookFlags = kFunc | kMask | kFsmagic | kUid | kFowner | kFsuuid |
                                         kInmask | kEuid | kPcr | kFsname | kGid | kEgid |
                                         kFgroup | kDigsig | kDirectio | kAlgos | kLsm | kTemplate;

struct FuncRules {
  std::uint32_t allowed;  // flags the hook accepts
  bool measure_only;      // only measure / dont_measure
};

FuncRules func_rules(std::optional<Func> f) {
  switch (f.value_or(Func::none)) {
    case Func::module_check:
    case Func::kexec_kernel_check:
    case Func::kexec_initramfs_check:
      return {(kFileHookFlags & ~kVerity) | kModsig | kBlacklist, false};
    case Func::kexec_cmdline:
      return {kFunc | kFsmagic | kUid | kFowner | kFsuuid | kEuid | kPcr | kFsname | kGid | kEgid |
                  kFgroup | kLsm | kTemplate,
              true};
    case Func::key_check: return {kFunc | kUid | kGid | kPcr | kKeyrings | kTemplate, true};
    case Func::critical_data: return {kFunc | kUid | kGid | kPcr | kLabel | kTemplate, true};
    case Func::setxattr_check: return {kFunc | kAlgos | kLsm, false};
    default: return {kFileHookFlags | kVerity, false};
  }
}

// The first key (in `order`) that sets one of `bits`: what a diagnostic points at.
struct Placed {
  const KeyDef* key;
  const Token* token;
};

struct Problem {
  std::uint32_t bits;  // 0: the action
  std::string message;
};

std::optional<Problem> check_rule(const Rule& r, const KernelFeatures& features) {
  std::uint32_t f = rule_flags(r);
  if (r.action != Action::measure && (f & kPcr)) return Problem{kPcr, "pcr= is only valid with `measure`"};
  if (r.action != Action::appraise && (f & (kDigsig | kModsig | kBlacklist | kAlgos)))
    return Problem{f & (kDigsig | kModsig | kBlacklist | kAlgos),
                   "appraise_type=, appraise_flag= and appraise_algos= are only valid with `appraise`"};
  FuncRules fr = func_rules(r.func);
  std::string where = r.func ? fmt::format("func={}", func_name(*r.func)) : "no func=";
  if (f & ~fr.allowed)
    return Problem{f & ~fr.allowed, fmt::format("not allowed in a rule with {}", where)};
  if (fr.measure_only && r.action != Action::measure && r.action != Action::dont_measure)
    return Problem{0, fmt::format("{} only takes measure or dont_measure", where)};
  if (r.func == Func::setxattr_check) {
    if (r.action != Action::appraise) return Problem{0, "func=SETXATTR_CHECK only takes appraise"};
    if (!(f & kAlgos)) return Problem{kFunc, "func=SETXATTR_CHECK needs appraise_algos="};
  }
  bool blacklist_needs_modsig = !blacklist_always_on(features);
  if ((f & kBlacklist) && blacklist_needs_modsig && !(f & kModsig))
    return Problem{kBlacklist, "appraise_flag=check_blacklist needs appraise_type=imasig|modsig"};
  if (r.action == Action::appraise && (f & kVerity) && !(f & kDigsig))
    return Problem{kVerity, "digest_type=verity in an appraise rule needs appraise_type=sigv3"};
  return std::nullopt;
}

// Version and build-option checks for a rule built in code (the parser checks
// these token by token).
std::optional<Problem> check_features(const Rule& r, const KernelFeatures& features) {
  auto too_new = [&](KernelVersion since) { return !knows(features, since); };
  auto target = features.version ? features.version->to_string() : std::string("any");
  for (const auto& k : kKeys) {
    Out o;
    k.print(r, o);
    if (!o.empty() && too_new(k.since))
      return Problem{k.flags, fmt::format("needs Linux {} or later (target kernel {})",
                                          k.since.to_string(), target)};
  }
  if (r.func && too_new(func_since(func_name(*r.func))))
    return Problem{kFunc, fmt::format("needs Linux {} or later (target kernel {})",
                                      func_since(func_name(*r.func)).to_string(), target)};
  if (r.template_name) {
    auto it = std::find_if(kTemplates.begin(), kTemplates.end(),
                           [&](const Versioned& t) { return t.name == *r.template_name; });
    if (it == kTemplates.end()) return Problem{kTemplate, "unknown template"};
    if (too_new(it->since)) return Problem{kTemplate, "template needs a newer kernel"};
  }
  if (!features.modsig && (r.appraise_type == AppraiseType::imasig_modsig || r.check_blacklist))
    return Problem{kModsig | kBlacklist, "the target kernel lacks CONFIG_IMA_APPRAISE_MODSIG"};
  if (!features.asymmetric_keys && (r.func == Func::key_check || r.keyrings))
    return Problem{kFunc | kKeyrings, "the target kernel lacks CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS"};
  if (!features.lsm_rules && std::any_of(r.lsm.begin(), r.lsm.end(), [](const auto& l) { return l.has_value(); }))
    return Problem{kLsm, "no LSM in the target kernel defines subj_*/obj_* labels"};
  return std::nullopt;
}

// ----- the parser proper ----------------------------------------------------------

struct ParsedToken {
  Token token;
  const KeyDef* key;  // nullptr for the action
};

Diagnostic error_at(int line, const Token& t, std::string message) {
  return {Diagnostic::Severity::error, line, t.column, std::string(t.text), std::move(message)};
}

// Points a whole-rule problem at the first token that caused it.
Diagnostic locate(const Problem& p, int line, const std::vector<ParsedToken>& tokens) {
  for (const auto& pt : tokens) {
    bool hit = p.bits == 0 ? pt.key == nullptr : pt.key && (pt.key->flags & p.bits);
    if (hit) return error_at(line, pt.token, fmt::format("`{}`: {}", pt.token.text, p.message));
  }
  return {Diagnostic::Severity::error, line, tokens.empty() ? 0 : tokens.front().token.column,
          tokens.empty() ? "" : std::string(tokens.front().token.text), p.message};
}

std::string unknown_token_message(const Token& t) {
  if (t.text.find('\r') != std::string_view::npos)
    return fmt::format("unknown token `{}`: a carriage return (the kernel splits on space and tab only)",
                       t.text);
  if (const KeyDef* k = find_key(t.name)) {
    if (k->shape == Shape::bare) return fmt::format("`{}` takes no value", t.name);
    if (t.op == 0) return fmt::format("`{}` needs a value (`{}=...`)", t.name, t.name);
    if (t.value.empty()) return fmt::format("`{}{}` has an empty value", t.name, t.op);
    return fmt::format("`{}` takes `=`, not `{}`", t.name, t.op);
  }
  if (action_from_name(t.name) && t.op) return fmt::format("action `{}` takes no value", t.name);
  return fmt::format("unknown token `{}`", t.text);
}

bool shape_fits(const KeyDef& k, const Token& t) {
  switch (k.shape) {
    case Shape::bare: return t.op == 0;
    case Shape::value: return t.op == '=' && !t.value.empty();
    case Shape::compare: return t.op != 0 && !t.value.empty();
  }
  return false;
}

// Parses one rule; the first error ends it (as in the kernel).
std::optional<Diagnostic> parse_tokens(std::string_view text, int line, const KernelFeatures& features,
                                       Rule& rule, std::vector<Diagnostic>& warnings) {
  std::vector<ParsedToken> tokens;
  bool action_set = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ' || text[pos] == '\t') {
      ++pos;
      continue;
    }
    std::size_t end = text.find_first_of(" \t", pos);
    if (end == std::string_view::npos) end = text.size();
    Token t = split_token(text.substr(pos, end - pos), static_cast<int>(pos) + 1);
    pos = end;
    if (t.op == 0) {
      if (auto a = action_from_name(t.text)) {
        if (action_set)
          return error_at(line, t, fmt::format("second action `{}`: a rule has one action", t.text));
        rule.action = *a;
        action_set = true;
        tokens.push_back({t, nullptr});
        continue;
      }
    }
    const KeyDef* k = find_key(t.name);
    if (!k || !shape_fits(*k, t)) return error_at(line, t, unknown_token_message(t));
    State s{rule, features, warnings, t, line, action_set};
    if (!knows(features, k->since))
      return error_at(line, t, *s.need(k->since, fmt::format("{}=", k->name)));
    IdOp op = t.op == '>' ? IdOp::gt : t.op == '<' ? IdOp::lt : IdOp::eq;
    if (auto e = k->parse(s, op, t.value)) return error_at(line, t, *e);
    tokens.push_back({t, k});
  }
  if (!action_set) {
    Token first = tokens.empty() ? Token{text, 1, text, 0, {}} : tokens.front().token;
    return error_at(line, first,
                    "rule has no action (measure, dont_measure, appraise, dont_appraise, audit, "
                    "hash, dont_hash)");
  }
  if (auto p = check_rule(rule, features)) return locate(*p, line, tokens);
  return std::nullopt;
}

std::string_view strip_comment_marker(std::string_view line) {
  line.remove_prefix(1);  // '#'
  if (!line.empty() && line[0] == ' ') line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
    line.remove_suffix(1);
  return line;
}

}  // namespace

Result<Rule> parse_rule(std::string_view text, const KernelFeatures& features, int line) {
  Rule rule;
  rule.line = line;
  std::vector<Diagnostic> warnings;
  if (auto d = parse_tokens(text, line, features, rule, warnings)) return fail(d->format());
  return rule;
}

ParseOutput parse_policy(std::string_view text, const KernelFeatures& features) {
  ParseOutput out;
  std::vector<std::string> comments;
  int line = 0;
  while (!text.empty()) {
    ++line;
    auto nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    std::string_view body = raw.substr(std::min(raw.find_first_not_of(" \t"), raw.size()));
    if (body.empty()) {
      comments.clear();
      continue;
    }
    if (body[0] == '#') {
      comments.emplace_back(strip_comment_marker(body));
      continue;
    }
    Rule rule;
    rule.line = line;
    auto err = parse_tokens(raw, line, features, rule, out.diagnostics);
    if (err) {
      out.diagnostics.push_back(std::move(*err));
    } else {
      rule.comments = std::move(comments);
      out.policy.rules.push_back(std::move(rule));
    }
    comments.clear();
  }
  return out;
}

Result<Policy> parse_policy_strict(std::string_view text, std::string_view source,
                                   const KernelFeatures& features) {
  auto out = parse_policy(text, features);
  if (const Diagnostic* d = out.first_error()) return fail(d->format(source));
  return std::move(out.policy);
}

std::optional<Diagnostic> validate_rule(const Rule& rule, const KernelFeatures& features) {
  auto p = check_features(rule, features);
  if (!p) p = check_rule(rule, features);
  if (!p) return std::nullopt;
  std::string what;
  for (const auto& k : kKeys)
    if (k.flags & p->bits) {
      Out o;
      k.print(rule, o);
      if (!o.empty()) {
        what = o.front();
        break;
      }
    }
  if (p->bits == 0 || what.empty()) what = std::string(action_name(rule.action));
  return Diagnostic{Diagnostic::Severity::error, rule.line, 0, what,
                    fmt::format("`{}`: {}", what, p->message)};
}

std::string to_string(const Rule& rule) {
  std::string out(action_name(rule.action));
  Out tokens;
  for (const auto& k : kKeys) k.print(rule, tokens);
  for (const auto& t : tokens) out += ' ' + t;
  return out;
}

std::string to_string(const Policy& policy, WithComments comments) {
  std::string out;
  for (const auto& r : policy.rules) {
    if (comments == WithComments::yes)
      for (const auto& c : r.comments) out += c.empty() ? "#\n" : "# " + c + "\n";
    out += to_string(r) + "\n";
  }
  return out;
}

std::optional<KernelVersion> token_since(std::string_view token) {
  Token t = split_token(token, 1);
  if (t.op == 0 && action_from_name(t.text)) return kOld;
  const KeyDef* k = find_key(t.name);
  if (!k) return std::nullopt;
  if (t.value.empty()) return k->since;
  if (k->name == "func") return func_from_name(t.value) ? std::optional(func_since(t.value)) : std::nullopt;
  if (k->name == "template") {
    for (const auto& tm : kTemplates)
      if (tm.name == t.value) return tm.since;
    return std::nullopt;
  }
  if (k->name == "appraise_type" && t.value == "sigv3") return KernelVersion{5, 19};
  return k->since;
}

}  // namespace imashim::policy
