#include "imashim/node/doctor.hpp"

#include <algorithm>
#include <array>
#include <sstream>

#include <fmt/format.h>

#include "imashim/backends/select.hpp"
#include "imashim/formats/measurement_log.hpp"
#include "imashim/formats/pcr.hpp"

namespace imashim::node {
namespace {

using backends::Kind;
using backends::Mode;

struct Ctx {
  const NodeFacts& f;
  Mode mode;
  BackendChoice backend;
  std::string boot_line;

  std::optional<Kind> configured;

  // The backend in use (or configured) is one of the kernel's.
  bool kernel_ima() const {
    auto k = backend.kind ? backend.kind : configured;
    return k && (*k == Kind::host || *k == Kind::ns_mount || *k == Kind::ns_user);
  }
  bool appraising() const { return mode == Mode::log || mode == Mode::enforce; }
  std::string grub_fix() const {
    return fmt::format(
        "set GRUB_CMDLINE_LINUX=\"{}\" in /etc/default/grub, run update-grub and reboot", boot_line);
  }
};

CheckResult result(Status s, std::string detail, std::string fix = "") {
  return {"", "", s, std::move(detail), std::move(fix)};
}

// A kernel config option: ok when set; otherwise `missing` with the fix.
CheckResult option_check(const Ctx& c, std::string_view option, Status missing, std::string_view why,
                         std::string fix = "") {
  if (!c.f.kconfig.value) return result(Status::warn, "unknown: " + c.f.kconfig.error);
  if (auto v = c.f.kconfig_value(option)) return result(Status::ok, fmt::format("CONFIG_{}={}", option, *v));
  if (fix.empty()) fix = fmt::format("build the kernel with CONFIG_{}=y", option);
  return result(missing, fmt::format("CONFIG_{} is not set: {}", option, why), std::move(fix));
}

bool has_ima(const Ctx& c) { return c.f.kconfig_enabled("IMA") || c.f.ima_dir; }

// Checks of kernel IMA settings say "not used" on nodes without kernel IMA.
std::optional<CheckResult> unless_ima(const Ctx& c) {
  if (has_ima(c)) return std::nullopt;
  return result(Status::info, "not used: the kernel has no IMA");
}

CheckResult check_kconfig(const Ctx& c) {
  if (c.f.kconfig.value)
    return result(Status::ok, fmt::format("{} ({} options)", c.f.kconfig.source, c.f.kconfig.value->size()));
  return result(Status::warn, c.f.kconfig.error,
                fmt::format("install the running kernel's config as /boot/config-{} or build it with "
                            "CONFIG_IKCONFIG_PROC=y", c.f.kernel_release));
}

CheckResult check_ima(const Ctx& c) {
  if (c.f.kconfig_enabled("IMA") || c.f.ima_dir)
    return result(Status::ok, c.f.kconfig_enabled("IMA") ? "CONFIG_IMA=y" : "securityfs has ima/");
  return result(c.kernel_ima() ? Status::fail : Status::warn,
                c.kernel_ima() ? "the kernel has no IMA (CONFIG_IMA not set), which the configured backend needs"
                               : "the kernel has no IMA (CONFIG_IMA not set): containers are measured in "
                                 "userspace by the fanotify backend and the host itself is not measured",
                "use a kernel built with CONFIG_INTEGRITY=y and CONFIG_IMA=y (Debian's and Ubuntu's "
                "distribution kernels have it)");
}

CheckResult check_ima_appraise(const Ctx& c) {
  if (auto r = unless_ima(c)) return *r;
  Status s = c.appraising() && c.kernel_ima() ? Status::fail : Status::warn;
  return option_check(c, "IMA_APPRAISE", s, "the kernel cannot appraise files (security.ima is not checked)");
}

CheckResult check_appraise_bootparam(const Ctx& c) {
  if (auto r = unless_ima(c)) return *r;
  return option_check(c, "IMA_APPRAISE_BOOTPARAM", Status::warn,
                      "ima_appraise= on the boot line is ignored, so the kernel's fix mode cannot be used "
                      "while labelling (imactl node label writes the labels itself)");
}

CheckResult check_write_policy(const Ctx& c) {
  if (auto r = unless_ima(c)) return *r;
  return option_check(c, "IMA_WRITE_POLICY", Status::warn,
                      "the IMA policy can be loaded once per boot (the policy file disappears after the "
                      "first load); changing it needs a reboot",
                      "build the kernel with CONFIG_IMA_WRITE_POLICY=y, or load the final policy at boot: "
                      "imactl node policy --profile <name> --write /etc/ima/ima-policy (systemd loads it)");
}

CheckResult check_read_policy(const Ctx& c) {
  if (auto r = unless_ima(c)) return *r;
  return option_check(c, "IMA_READ_POLICY", Status::warn,
                      "the loaded policy cannot be read back from securityfs to verify it");
}

CheckResult check_hash(const Ctx& c) {
  if (auto r = unless_ima(c)) return *r;
  auto boot = c.f.boot_param("ima_hash");
  auto def = c.f.kconfig_value("IMA_DEFAULT_HASH");
  std::string hash = boot ? *boot : def.value_or("");
  std::string from = boot ? "ima_hash= on the boot line" : "CONFIG_IMA_DEFAULT_HASH";
  if (hash.empty()) return result(Status::warn, "unknown: no ima_hash= and no CONFIG_IMA_DEFAULT_HASH", c.grub_fix());
  if (hash == "sha1" || hash == "md5" || hash == "md4")
    return result(Status::warn, fmt::format("{} ({}): too weak for file integrity", hash, from), c.grub_fix());
  return result(Status::ok, fmt::format("{} ({})", hash, from));
}

CheckResult check_template(const Ctx& c) {
  if (auto r = unless_ima(c)) return *r;
  auto boot = c.f.boot_param("ima_template");
  auto def = c.f.kconfig_value("IMA_DEFAULT_TEMPLATE");
  std::string tpl = boot ? *boot : def.value_or("");
  std::string from = boot ? "ima_template= on the boot line" : "CONFIG_IMA_DEFAULT_TEMPLATE";
  if (tpl.empty()) return result(Status::warn, "unknown: no ima_template= and no CONFIG_IMA_DEFAULT_TEMPLATE", c.grub_fix());
  if (tpl == "ima")
    return result(Status::warn, fmt::format("ima ({}): sha1 digests only, names cut at 255 bytes", from), c.grub_fix());
  return result(Status::ok, fmt::format("{} ({})", tpl, from));
}

CheckResult check_signature(const Ctx& c) {
  if (auto r = unless_ima(c)) return *r;
  return option_check(c, "INTEGRITY_SIGNATURE", Status::warn,
                      "signed labels (appraise_type=imasig) cannot be verified by the kernel",
                      "build the kernel with CONFIG_INTEGRITY_SIGNATURE=y and CONFIG_INTEGRITY_ASYMMETRIC_KEYS=y");
}

CheckResult check_fanotify(const Ctx& c) {
  bool needed = !c.backend.kind || *c.backend.kind == Kind::fanotify;
  if (c.f.fanotify_probe.value_or(false))
    return result(Status::ok, "fanotify_init(FAN_CLASS_CONTENT) works on this kernel");
  if (c.f.kconfig_enabled("FANOTIFY_ACCESS_PERMISSIONS"))
    return result(Status::ok, "CONFIG_FANOTIFY_ACCESS_PERMISSIONS=y");
  std::string fix = "build the kernel with CONFIG_FANOTIFY=y and CONFIG_FANOTIFY_ACCESS_PERMISSIONS=y";
  if (!c.f.kconfig.value) return result(needed ? Status::fail : Status::warn, "unknown: " + c.f.kconfig.error, fix);
  return result(needed ? Status::fail : Status::warn,
                "no fanotify permission events: the userspace backend cannot run here", fix);
}

CheckResult check_tpm_config(const Ctx& c) {
  return option_check(c, "TCG_TPM", Status::warn, "measurement logs cannot be anchored in a TPM PCR",
                      "build the kernel with CONFIG_TCG_TPM=y and the driver of the TPM (CONFIG_TCG_TIS or "
                      "CONFIG_TCG_CRB)");
}

CheckResult check_boot_policy(const Ctx& c) {
  if (auto r = unless_ima(c)) return *r;
  if (!c.f.cmdline.value) return result(Status::warn, "unknown: " + c.f.cmdline.error);
  if (auto p = c.f.boot_param("ima_policy")) return result(Status::ok, "ima_policy=" + *p);
  if (c.f.ima_policy_text && !c.f.ima_policy_text->empty())
    return result(Status::ok, "no ima_policy= but a policy is loaded (readable in securityfs)");
  bool host = c.kernel_ima() && c.backend.kind == Kind::host;
  Status s = !host ? Status::info : c.mode == Mode::enforce ? Status::fail : Status::warn;
  return result(s, "no ima_policy= on the boot line: the kernel measures and appraises nothing until a "
                   "policy is loaded", c.grub_fix());
}

CheckResult check_boot_appraise(const Ctx& c) {
  if (auto r = unless_ima(c)) return *r;
  if (!c.f.cmdline.value) return result(Status::warn, "unknown: " + c.f.cmdline.error);
  auto v = c.f.boot_param("ima_appraise");
  bool enforce_here = c.mode == Mode::enforce && c.kernel_ima();
  if (!v) return result(Status::ok, "not set: appraise rules are enforced (the kernel's default)");
  if (*v == "enforce" || *v == "enforce_ns") return result(Status::ok, "ima_appraise=" + *v);
  std::string why = *v == "fix" ? "fix mode: bad labels are rewritten, nothing is refused (use it only while "
                                  "labelling, then switch to enforce)"
                                : "appraisal results are not enforced";
  return result(enforce_here ? Status::fail : Status::warn, fmt::format("ima_appraise={}: {}", *v, why),
                c.grub_fix());
}

CheckResult check_lsm(const Ctx& c) {
  if (auto r = unless_ima(c)) return *r;
  auto lsm = c.f.boot_param("lsm");
  if (!lsm) return result(Status::ok, "no lsm= on the boot line: the kernel's CONFIG_LSM order applies");
  if (c.f.kernel_version >= KernelVersion{6, 9})
    return result(Status::ok, "lsm=" + *lsm + " (ima and evm always run last since Linux 6.9)");
  std::string padded = "," + *lsm + ",";
  if (padded.find(",integrity,") != std::string::npos) return result(Status::ok, "lsm=" + *lsm);
  return result(Status::fail, "lsm=" + *lsm + " leaves out integrity: IMA does not initialise", c.grub_fix());
}

CheckResult check_securityfs(const Ctx& c) {
  if (c.f.securityfs) return result(Status::ok, "mounted on " + *c.f.securityfs);
  return result(c.kernel_ima() ? Status::fail : Status::warn, "securityfs is not mounted",
                "mount -t securityfs securityfs /sys/kernel/security (systemd mounts it at boot)");
}

CheckResult check_ima_interface(const Ctx& c) {
  if (c.f.ima_namespaces) return result(Status::ok, "ima/namespaces: the mount-namespace interface (ns-mount)");
  if (c.f.ima_active) return result(Status::ok, "ima/active: the user-namespace interface (ns-user)");
  if (c.f.ima_dir) return result(Status::ok, "ima/ without a namespace interface: one host policy and log");
  if (!c.f.securityfs) return result(Status::info, "unknown: securityfs is not mounted");
  return result(c.kernel_ima() ? Status::fail : Status::info, "securityfs has no ima/: no kernel IMA");
}

CheckResult check_tpm(const Ctx& c) {
  if (!c.f.tpm.present)
    return result(Status::warn, "no TPM (/sys/class/tpm/tpm0): measurement logs are not anchored",
                  "enable the TPM in the firmware, or give the VM a virtual TPM (swtpm)");
  std::string v = c.f.tpm.version_major.empty() ? "unknown version" : "TPM " + c.f.tpm.version_major + ".x";
  return result(Status::ok, "tpm0, " + v);
}

// PCR 10 as sysfs shows it (kernel >= 5.12 for TPM 2.0) against the replay of
// the kernel's log. The PCR is read before the log, so the log may hold entries
// added since: a matching prefix is a match.
CheckResult check_pcr10(const Ctx& c) {
  if (!c.f.tpm.present) return result(Status::info, "no TPM");
  if (!c.f.ima_dir) return result(Status::info, "no kernel IMA log to replay");
  if (!c.f.tpm.pcr10_sha256 && !c.f.tpm.pcr10_sha1)
    return result(Status::warn, "PCR 10 is not readable in sysfs (TPM 2.0 PCRs appear in /sys/class/tpm/tpm0/pcr-*/ "
                                "from Linux 5.12)",
                  "compare by hand: tpm2_pcrread sha256:10 and imactl log replay --kernel");
  formats::PcrValues expected;
  for (auto [bank, hex] : {std::pair{formats::HashAlgo::sha256, c.f.tpm.pcr10_sha256},
                           std::pair{formats::HashAlgo::sha1, c.f.tpm.pcr10_sha1}}) {
    if (!hex) continue;
    auto bytes = from_hex(*hex);
    if (!bytes) return result(Status::warn, fmt::format("PCR 10 ({}) in sysfs is not hex: {}", formats::hash_algo_name(bank), *hex));
    expected[bank][formats::kImaPcr] = *bytes;
  }
  auto log = formats::read_whole_file(c.f.ima_log);
  if (!log) return result(Status::fail, log.error().message());
  auto res = formats::verify_log(*log, expected);
  if (!res) return result(Status::fail, "the kernel's log does not parse: " + res.error().message());
  std::vector<std::string> parts;
  bool all = true;
  for (const formats::PcrCheck& pc : res->checks) {
    bool prefix = !pc.match && pc.matching_prefix;
    all = all && (pc.match || prefix);
    parts.push_back(fmt::format("{} {}", formats::hash_algo_name(pc.bank),
                                pc.match ? fmt::format("equals the replay of {} entries", res->entries)
                                : prefix ? fmt::format("equals the replay of the first {} of {} entries", *pc.matching_prefix, res->entries)
                                         : "differs from the replay"));
  }
  if (all) return result(Status::ok, fmt::format("PCR 10: {}", fmt::join(parts, "; ")));
  std::string where = res->first_divergent ? fmt::format(" (entry {}: {})", res->first_divergent->index, res->first_divergent->what) : "";
  return result(c.kernel_ima() ? Status::fail : Status::warn,
                fmt::format("PCR 10: {}{}: the log was altered or entries were extended outside it", fmt::join(parts, "; "), where),
                "investigate before trusting this node's measurements: imactl log replay --kernel");
}

CheckResult check_auditd(const Ctx& c) {
  if (!c.f.auditd_pids.empty())
    return result(Status::ok, fmt::format("auditd running (pid {})", c.f.auditd_pids.front()));
  return result(Status::warn, "auditd is not running: integrity audit records (types 1800-1807) go to the kernel log only",
                "apt-get install auditd; install -m 0640 imashim.rules /etc/audit/rules.d/; augenrules --load");
}

// Does `m` keep i_version, so that the kernel re-measures a file after it changes?
std::optional<bool> keeps_i_version(const NodeFacts& f, const Mount& m) {
  if (m.fstype == "xfs" || m.fstype == "btrfs") return true;
  if (m.fstype == "ext4" || m.fstype == "ext3" || m.fstype == "ext2")
    return f.kernel_version >= KernelVersion{6, 1} || m.has_option("i_version") || m.has_option("iversion");
  return std::nullopt;
}

CheckResult check_i_version(const Ctx& c) {
  std::vector<std::string> without, unknown, with;
  for (const Mount& m : c.f.mounts) {
    if (is_pseudo_fstype(m.fstype) || m.fstype == "overlay" || m.fstype == "squashfs") continue;
    auto keeps = keeps_i_version(c.f, m);
    std::string name = m.target + " (" + m.fstype + ")";
    (keeps ? (*keeps ? with : without) : unknown).push_back(name);
  }
  if (without.empty() && unknown.empty())
    return result(Status::ok, with.empty() ? "no measured filesystems mounted" : fmt::format("{}", fmt::join(with, ", ")));
  Status s = c.kernel_ima() && !without.empty() ? Status::warn : Status::info;
  std::string detail;
  if (!without.empty())
    detail = fmt::format("no i_version on {}: the kernel does not re-measure a file changed there",
                         fmt::join(without, ", "));
  if (!unknown.empty())
    detail += fmt::format("{}i_version unknown on {}", detail.empty() ? "" : "; ", fmt::join(unknown, ", "));
  bool root_without = std::any_of(without.begin(), without.end(), [](const std::string& n) { return n.starts_with("/ ("); });
  std::string fix = "add the i_version mount option in /etc/fstab for each listed filesystem";
  if (root_without) fix = c.grub_fix() + " (rootflags=i_version for /); " + fix;
  return result(s, detail, without.empty() ? "" : fix);
}

CheckResult check_overlay(const Ctx& c) {
  if (c.f.has_filesystem("overlay")) return result(Status::ok, "overlay in /proc/filesystems");
  if (c.f.kconfig_enabled("OVERLAY_FS")) return result(Status::ok, "CONFIG_OVERLAY_FS (module, loaded on first mount)");
  return result(Status::warn, "no overlayfs: image layers cannot be labelled once and shared",
                "modprobe overlay, or build the kernel with CONFIG_OVERLAY_FS=y");
}

CheckResult check_runc(const Ctx& c) {
  if (c.f.runc) return result(Status::ok, c.f.runc->string());
  return result(Status::fail, "runc not found: ima-runc passes every command to runc",
                "apt-get install runc, or set runc_path in /etc/imashim/config.json");
}

CheckResult check_engines(const Ctx& c) {
  std::vector<std::string> using_ima, present, errors;
  for (const EngineConfig& e : c.f.engines) {
    if (!e.error.empty()) errors.push_back(e.engine + ": " + e.error);
    if (!e.present) continue;
    present.push_back(e.engine);
    if (e.ima_runtimes.empty()) continue;
    using_ima.push_back(fmt::format("{} (runtime {}{})", e.engine, fmt::join(e.ima_runtimes, ", "),
                                    e.ima_default ? ", default" : ""));
  }
  if (!errors.empty()) return result(Status::warn, fmt::format("{}", fmt::join(errors, "; ")));
  if (!using_ima.empty()) return result(Status::ok, fmt::format("{}", fmt::join(using_ima, "; ")));
  return result(Status::warn,
                present.empty() ? "no engine config found (containerd, docker, podman)"
                                : fmt::format("{} not set to use ima-runc", fmt::join(present, ", ")),
                "register ima-runc as a runtime: imactl engine setup containerd|docker|podman [--default]");
}

CheckResult check_backend(const Ctx& c) {
  if (!c.backend.kind) return result(Status::fail, c.backend.reason, "see the failed checks above");
  return result(Status::ok, fmt::format("{}: {}", backends::kind_name(*c.backend.kind), c.backend.reason));
}

struct CheckSpec {
  std::string_view id;
  std::string_view title;
  CheckResult (*run)(const Ctx&);
};

constexpr std::array kChecks = {
    CheckSpec{"kernel.config", "kernel config readable", check_kconfig},
    CheckSpec{"kernel.ima", "kernel IMA (CONFIG_IMA)", check_ima},
    CheckSpec{"kernel.ima_appraise", "IMA appraisal (CONFIG_IMA_APPRAISE)", check_ima_appraise},
    CheckSpec{"kernel.ima_appraise_bootparam", "ima_appraise= boot parameter (CONFIG_IMA_APPRAISE_BOOTPARAM)", check_appraise_bootparam},
    CheckSpec{"kernel.ima_write_policy", "policy updates (CONFIG_IMA_WRITE_POLICY)", check_write_policy},
    CheckSpec{"kernel.ima_read_policy", "policy readable (CONFIG_IMA_READ_POLICY)", check_read_policy},
    CheckSpec{"ima.hash", "IMA hash algorithm", check_hash},
    CheckSpec{"ima.template", "IMA template", check_template},
    CheckSpec{"kernel.integrity_signature", "signature verification (CONFIG_INTEGRITY_SIGNATURE)", check_signature},
    CheckSpec{"kernel.fanotify", "fanotify permission events", check_fanotify},
    CheckSpec{"kernel.tpm", "TPM driver (CONFIG_TCG_TPM)", check_tpm_config},
    CheckSpec{"boot.ima_policy", "boot policy (ima_policy=)", check_boot_policy},
    CheckSpec{"boot.ima_appraise", "appraisal mode (ima_appraise=)", check_boot_appraise},
    CheckSpec{"boot.lsm", "LSM order (lsm=)", check_lsm},
    CheckSpec{"fs.securityfs", "securityfs mounted", check_securityfs},
    CheckSpec{"ima.interface", "IMA in securityfs and its namespace interface", check_ima_interface},
    CheckSpec{"tpm.present", "TPM present", check_tpm},
    CheckSpec{"tpm.pcr10", "PCR 10 equals the replay of the kernel's log", check_pcr10},
    CheckSpec{"audit.auditd", "auditd running", check_auditd},
    CheckSpec{"fs.i_version", "i_version on filesystems with measured files", check_i_version},
    CheckSpec{"fs.overlay", "overlayfs", check_overlay},
    CheckSpec{"runtime.runc", "runc found", check_runc},
    CheckSpec{"runtime.engines", "engines set to use ima-runc", check_engines},
    CheckSpec{"backend", "backend imashim would use", check_backend},
};

bool fanotify_usable(const NodeFacts& f) {
  if (f.fanotify_probe) return *f.fanotify_probe;
  return f.kconfig_enabled("FANOTIFY_ACCESS_PERMISSIONS");
}

std::string fanotify_reason(const NodeFacts& f) {
  if (f.fanotify_probe) return *f.fanotify_probe ? "fanotify_init(FAN_CLASS_CONTENT) works" : "fanotify_init failed";
  return f.kconfig_enabled("FANOTIFY_ACCESS_PERMISSIONS") ? "CONFIG_FANOTIFY_ACCESS_PERMISSIONS=y"
                                                          : "no CONFIG_FANOTIFY_ACCESS_PERMISSIONS";
}

}  // namespace

std::string_view status_name(Status status) {
  static constexpr std::array<std::string_view, 4> kNames = {"ok", "info", "warn", "fail"};
  return kNames[static_cast<std::size_t>(status)];
}

BackendChoice choose_backend(const NodeFacts& facts, const DoctorOptions& options) {
  backends::Detection d = backends::detect_backend({facts.root("/sys"), facts.root("/proc")});
  std::string prefix = std::string(backends::kind_name(d.kind)) + ": ";
  if (d.reason.starts_with(prefix)) d.reason.erase(0, prefix.size());
  std::string passed_over = d.rejected.empty() ? "" : fmt::format(" (passed over: {})", fmt::join(d.rejected, "; "));
  if (!options.backend) {
    if (d.kind == Kind::fanotify && !fanotify_usable(facts))
      return {std::nullopt, fmt::format("no backend can run here: no kernel IMA and {}{}", fanotify_reason(facts), passed_over)};
    return {d.kind, d.reason + passed_over};
  }
  Kind want = *options.backend;
  if (want == Kind::fanotify) {
    if (fanotify_usable(facts)) return {want, "configured; " + fanotify_reason(facts)};
    return {std::nullopt, "configured backend fanotify cannot run here: " + fanotify_reason(facts)};
  }
  if (want == d.kind) return {want, "configured; " + d.reason};
  // The mainline interface is there whenever a namespace interface is.
  if (want == Kind::host && (d.kind == Kind::ns_mount || d.kind == Kind::ns_user) && facts.ima_dir)
    return {want, "configured; kernel IMA is present"};
  std::string why = "the kernel does not offer it";
  for (const std::string& r : d.rejected)
    if (r.starts_with(std::string(backends::kind_name(want)) + ":")) why = r;
  return {std::nullopt, fmt::format("configured backend {} cannot run here: {}", backends::kind_name(want), why)};
}

BootNeeds boot_needs(Mode mode) {
  if (mode == Mode::enforce) return {"tcb|appraise_tcb", true, "fix"};  // fix until labelled, then enforce
  if (mode == Mode::log) return {"tcb|appraise_tcb", true, "log"};
  return {"tcb", false, ""};
}

std::string recommended_boot_line(const NodeFacts& f, const BootNeeds& needs) {
  BootCmdline line = f.grub_cmdline.value.value_or(BootCmdline{});
  line.set("ima_policy", needs.ima_policy);
  line.set("ima_template", "ima-ng");
  line.set("ima_hash", "sha256");
  if (needs.appraise) line.set("ima_appraise", needs.appraise_mode);
  for (const Mount& m : f.mounts)
    if (m.target == "/" && keeps_i_version(f, m) == false) line.set("rootflags", "i_version");
  auto lsm = f.boot_param("lsm");
  if (lsm && f.kernel_version < KernelVersion{6, 9} && ("," + *lsm + ",").find(",integrity,") == std::string::npos)
    line.set("lsm", "integrity," + *lsm);
  return line.str();
}

bool DoctorReport::ready() const {
  return std::none_of(checks.begin(), checks.end(), [](const CheckResult& c) { return c.status == Status::fail; });
}

DoctorReport run_doctor(const NodeFacts& facts, const DoctorOptions& options) {
  DoctorReport report;
  report.mode = options.mode;
  report.backend = choose_backend(facts, options);
  report.boot_line = recommended_boot_line(facts, boot_needs(options.mode));
  Ctx ctx{facts, options.mode, report.backend, report.boot_line, options.backend};
  for (const CheckSpec& spec : kChecks) {
    CheckResult r = spec.run(ctx);
    r.id = spec.id;
    r.title = spec.title;
    report.checks.push_back(std::move(r));
  }
  return report;
}

DoctorReport run_doctor(const DoctorOptions& options) {
  return run_doctor(gather_facts(options.gather), options);
}

nlohmann::json DoctorReport::to_json() const {
  nlohmann::json checks_json = nlohmann::json::array();
  for (const CheckResult& c : checks)
    checks_json.push_back({{"id", c.id}, {"title", c.title}, {"status", status_name(c.status)},
                           {"detail", c.detail}, {"fix", c.fix}});
  return {{"mode", backends::mode_name(mode)},
          {"ready", ready()},
          {"backend", backend.kind ? nlohmann::json(backends::kind_name(*backend.kind)) : nlohmann::json()},
          {"backend_reason", backend.reason},
          {"boot_line", boot_line},
          {"checks", checks_json}};
}

std::string DoctorReport::to_text() const {
  std::ostringstream out;
  for (const CheckResult& c : checks) {
    out << fmt::format("{:<5} {:<30} {}\n", status_name(c.status), c.id, c.detail);
    if (!c.fix.empty() && c.status != Status::ok) out << fmt::format("      fix: {}\n", c.fix);
  }
  out << fmt::format("\nmode {}: {}\n", backends::mode_name(mode),
                     ready() ? "this node is ready" : "this node is NOT ready (see the failed checks)");
  return out.str();
}

}  // namespace imashim::node
