// Names of actions, hooks, masks and the small value types of the policy language.
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstdio>

#include "imashim/policy/policy.hpp"

namespace imashim::policy {
namespace {

struct ActionName {
  Action action;
  std::string_view name;
  ActionClass cls;
  bool does;
};
constexpr std::array<ActionName, 7> kActions{{
    {Action::measure, "measure", ActionClass::measure, true},
    {Action::dont_measure, "dont_measure", ActionClass::measure, false},
    {Action::appraise, "appraise", ActionClass::appraise, true},
    {Action::dont_appraise, "dont_appraise", ActionClass::appraise, false},
    {Action::audit, "audit", ActionClass::audit, true},
    {Action::hash, "hash", ActionClass::hash, true},
    {Action::dont_hash, "dont_hash", ActionClass::hash, false},
}};

const ActionName& action_info(Action a) {
  for (const auto& n : kActions)
    if (n.action == a) return n;
  return kActions[0];
}

struct FuncName {
  Func func;
  std::string_view name;
};
// Canonical names first; the old spellings the kernel still accepts after them.
constexpr std::array<FuncName, 16> kFuncs{{
    {Func::file_check, "FILE_CHECK"},
    {Func::mmap_check, "MMAP_CHECK"},
    {Func::mmap_check_reqprot, "MMAP_CHECK_REQPROT"},
    {Func::bprm_check, "BPRM_CHECK"},
    {Func::creds_check, "CREDS_CHECK"},
    {Func::module_check, "MODULE_CHECK"},
    {Func::firmware_check, "FIRMWARE_CHECK"},
    {Func::kexec_kernel_check, "KEXEC_KERNEL_CHECK"},
    {Func::kexec_initramfs_check, "KEXEC_INITRAMFS_CHECK"},
    {Func::policy_check, "POLICY_CHECK"},
    {Func::kexec_cmdline, "KEXEC_CMDLINE"},
    {Func::key_check, "KEY_CHECK"},
    {Func::critical_data, "CRITICAL_DATA"},
    {Func::setxattr_check, "SETXATTR_CHECK"},
    {Func::file_check, "PATH_CHECK"},
    {Func::mmap_check, "FILE_MMAP"},
}};

constexpr std::array<std::pair<std::uint32_t, std::string_view>, 4> kMasks{{
    {kMayExec, "MAY_EXEC"},
    {kMayWrite, "MAY_WRITE"},
    {kMayRead, "MAY_READ"},
    {kMayAppend, "MAY_APPEND"},
}};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view action_name(Action a) { return action_info(a).name; }
std::optional<Action> action_from_name(std::string_view name) {
  for (const auto& n : kActions)
    if (n.name == name) return n.action;
  return std::nullopt;
}
ActionClass action_class(Action a) { return action_info(a).cls; }
bool is_do_action(Action a) { return action_info(a).does; }

std::string_view action_class_name(ActionClass c) {
  static constexpr std::array<std::string_view, kActionClassCount> names{"measure", "appraise",
                                                                         "audit", "hash"};
  return names[static_cast<int>(c)];
}

std::string_view func_name(Func f) {
  for (const auto& n : kFuncs)
    if (n.func == f) return n.name;
  return {};
}
std::optional<Func> func_from_name(std::string_view name) {
  for (const auto& n : kFuncs)
    if (n.name == name) return n.func;
  return std::nullopt;
}

std::string_view mask_name(std::uint32_t bit) {
  for (const auto& [b, n] : kMasks)
    if (b == bit) return n;
  return {};
}
std::optional<std::uint32_t> mask_from_name(std::string_view name) {
  for (const auto& [b, n] : kMasks)
    if (n == name) return b;
  return std::nullopt;
}

bool IdCond::matches(std::uint32_t id) const {
  switch (op) {
    case IdOp::gt: return id > value;
    case IdOp::lt: return id < value;
    case IdOp::eq: break;
  }
  return id == value;
}

std::string uuid_to_string(const Uuid& u) {
  std::string out;
  for (std::size_t i = 0; i < u.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += fmt::format("{:02x}", u[i]);
  }
  return out;
}

// The kernel's uuid_parse(): 36 characters, dashes at 8, 13, 18 and 23.
std::optional<Uuid> uuid_from_string(std::string_view s) {
  if (s.size() != 36) return std::nullopt;
  Uuid u{};
  std::size_t byte = 0;
  for (std::size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    u[byte++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return u;
}

std::string_view appraise_type_name(AppraiseType t) {
  switch (t) {
    case AppraiseType::imasig_modsig: return "imasig|modsig";
    case AppraiseType::sigv3: return "sigv3";
    case AppraiseType::imasig: break;
  }
  return "imasig";
}

std::string KernelVersion::to_string() const { return fmt::format("{}.{}", major, minor); }

Result<KernelVersion> KernelVersion::parse(std::string_view text) {
  KernelVersion v;
  const char* end = text.data() + text.size();
  auto r1 = std::from_chars(text.data(), end, v.major);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '.')
    return fail(fmt::format("kernel version `{}`: expected MAJOR.MINOR, e.g. 6.1", text));
  auto r2 = std::from_chars(r1.ptr + 1, end, v.minor);
  if (r2.ec != std::errc() || (r2.ptr != end && *r2.ptr != '.' && *r2.ptr != '-'))
    return fail(fmt::format("kernel version `{}`: expected MAJOR.MINOR, e.g. 6.1", text));
  if (v.major < 2 || v.major > 99)
    return fail(fmt::format("kernel version `{}`: major version out of range", text));
  return v;
}

Result<KernelFeatures> kernel_target(std::string_view name) {
  KernelFeatures f;
  if (name == "debian-12") {
    f.version = KernelVersion{6, 1};
    f.modsig = false;
    return f;
  }
  auto v = KernelVersion::parse(name);
  if (!v.ok()) return fail(fmt::format("kernel `{}`: expected MAJOR.MINOR (e.g. 6.1) or debian-12", name));
  f.version = *v;
  return f;
}

std::string Diagnostic::format(std::string_view source) const {
  std::string out;
  if (!source.empty()) out = fmt::format("{}:", source);
  if (line > 0) out += fmt::format("{}:", line);
  if (column > 0) out += fmt::format("{}:", column);
  if (!out.empty()) out += ' ';
  out += severity == Severity::error ? "error: " : "warning: ";
  out += message;
  return out;
}

bool ParseOutput::ok() const { return first_error() == nullptr; }
const Diagnostic* ParseOutput::first_error() const {
  for (const auto& d : diagnostics)
    if (d.severity == Diagnostic::Severity::error) return &d;
  return nullptr;
}

bool Rule::operator==(const Rule& o) const {
  return action == o.action && func == o.func && mask == o.mask && fsmagic == o.fsmagic &&
         fsname == o.fsname && keyrings == o.keyrings && label == o.label && pcr == o.pcr &&
         fsuuid == o.fsuuid && uid == o.uid && euid == o.euid && gid == o.gid && egid == o.egid &&
         fowner == o.fowner && fgroup == o.fgroup && appraise_algos == o.appraise_algos &&
         lsm == o.lsm && template_name == o.template_name && appraise_type == o.appraise_type &&
         digest_verity == o.digest_verity && check_blacklist == o.check_blacklist &&
         permit_directio == o.permit_directio;
}

}  // namespace imashim::policy
