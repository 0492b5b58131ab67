// The engine's views of the other modules: the policy evaluator, the
// measurement log appender, layer manifests.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "imashim/backends/fanotify_engine.hpp"
#include "imashim/formats/measurement_log.hpp"
#include "imashim/formats/template.hpp"
#include "imashim/label/manifest.hpp"
#include "imashim/policy/evaluate.hpp"
#include "imashim/policy/policy.hpp"
#include "monitor_internal.hpp"

namespace imashim::backends::fanotify {
namespace {

constexpr std::pair<Hook, policy::Func> kHookFuncs[] = {
    {Hook::bprm_check, policy::Func::bprm_check},
    {Hook::file_check, policy::Func::file_check},
    {Hook::mmap_check, policy::Func::mmap_check},
};

class PolicyAdapter : public PolicyView {
 public:
  explicit PolicyAdapter(policy::Policy p) : policy_(std::move(p)) {
    subject_dependent_ = std::any_of(policy_.rules.begin(), policy_.rules.end(), [](const policy::Rule& r) {
      bool subj_lsm = r.lsm[3] || r.lsm[4] || r.lsm[5];
      return r.uid || r.euid || r.gid || r.egid || subj_lsm;
    });
    mmap_ = std::any_of(policy_.rules.begin(), policy_.rules.end(), [](const policy::Rule& r) {
      return !r.func || *r.func == policy::Func::mmap_check || *r.func == policy::Func::mmap_check_reqprot;
    });
  }

  PolicyVerdict evaluate(const PolicyAccess& a) const override {
    policy::Access access;
    for (const auto& [hook, func] : kHookFuncs)
      if (hook == a.hook) access.func = func;
    access.mask = a.mask;
    access.uid = a.uid;
    access.euid = a.euid;
    access.suid = a.euid;
    access.gid = a.gid;
    access.egid = a.egid;
    access.sgid = a.egid;
    access.fowner = a.fowner;
    access.fgroup = a.fgroup;
    access.fsmagic = a.fsmagic;
    policy::Decision d = policy::evaluate(policy_, access);
    PolicyVerdict v;
    v.measure = d.measure();
    v.appraise = d.appraise();
    v.audit = d.audit();
    v.require_signature = d.appraise_type.has_value();
    v.template_name = d.template_name.value_or("");
    v.pcr = d.pcr.value_or(10);
    return v;
  }
  bool depends_on_subject() const override { return subject_dependent_; }
  bool uses_mmap_check() const override { return mmap_; }

 private:
  policy::Policy policy_;
  bool subject_dependent_ = false;
  bool mmap_ = false;
};

class LogSink : public MeasurementSink {
 public:
  LogSink(formats::MeasurementLogAppender app, std::filesystem::path dir, formats::TemplatePtr def)
      : app_(std::move(app)), dir_(std::move(dir)), default_(std::move(def)) {}

  Result<void> append(const Measurement& m) override {
    IMASHIM_TRY(auto desc, template_for(m.template_name));
    formats::Measurement fm;
    fm.path = m.path;
    fm.algo = m.algo;
    fm.digest = m.digest;
    fm.signature = m.signature;
    fm.pcr = static_cast<std::uint32_t>(m.pcr);
    if (auto r = app_.append(desc, fm); !r) return std::move(r).with_context("append to the measurement log");
    return {};
  }
  Result<void> violation(const std::string& name, int pcr) override {
    formats::Measurement fm;
    fm.path = name;
    fm.violation = true;
    fm.pcr = static_cast<std::uint32_t>(pcr);
    IMASHIM_TRY_VOID(app_.append(default_, fm));
    return {};
  }
  // The log's two fdatasyncs and the pcrs files' fsyncs side by side (the
  // pcrs files are computed from the log as written; they are in place only
  // once all five are on the disk).
  Result<void> flush() override {
    return finalize_log(dir_, {[this] { return app_.sync_binary(); }, [this] { return app_.sync_ascii(); }});
  }
  PcrFiles pcr_files() const override {
    PcrFiles out{{"pcrs", formats::format_pcrs_tpm2(app_.banks())}};
    for (const auto& bank : app_.banks())
      out.emplace_back("pcrs-" + std::string(formats::hash_algo_name(bank.algo())), formats::format_pcrs_evmctl(bank));
    return out;
  }
  Result<void> publish(const PcrFiles& files) override {
    for (const auto& [name, text] : files) {
      auto tmp = dir_ / (name + ".tmp");
      os::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (!fd) return fail_errno("open `" + tmp.string() + "`");
      if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return fail_errno("write `" + tmp.string() + "`");
      if (::rename(tmp.c_str(), (dir_ / name).c_str()) != 0) return fail_errno("rename `" + tmp.string() + "`");
    }
    return {};
  }

 private:
  Result<formats::TemplatePtr> template_for(const std::string& name) {
    if (name.empty() || name == default_->name) return default_;
    return formats::resolve_template(name);
  }
  formats::MeasurementLogAppender app_;
  std::filesystem::path dir_;
  formats::TemplatePtr default_;
};

class ManifestRefs : public ReferenceDigests {
 public:
  explicit ManifestRefs(std::vector<label::Manifest> m) : manifests_(std::move(m)) {}
  // The upper layers come first in the request: the first manifest naming the path wins.
  std::optional<std::pair<formats::HashAlgo, Bytes>> lookup(const std::string& path) const override {
    for (const auto& m : manifests_)
      if (const auto* e = m.find(path)) return std::make_pair(e->algo, e->digest);
    return std::nullopt;
  }

 private:
  std::vector<label::Manifest> manifests_;
};

}  // namespace

std::vector<policy::Diagnostic> policy_diagnostics(const policy::Policy& p) {
  std::vector<policy::Diagnostic> out;
  for (const auto& r : p.rules) {
    // A fanotify permission event does not carry the opener's open flags: the
    // event fd is opened with the listener's own flags (fanotify_init's
    // event_f_flags), and the opener's file is not in its fd table yet.
    if (r.mask && (r.mask->bit == policy::kMayWrite || r.mask->bit == policy::kMayAppend))
      out.push_back({policy::Diagnostic::Severity::error, r.line, 0, "mask",
                     fmt::format("`{}`: mask={}{} cannot be evaluated by the fanotify backend (a permission event "
                                 "does not tell the opener's open flags, so the rule would never match; use a "
                                 "kernel IMA backend for it)",
                                 policy::to_string(r), r.mask->any ? "^" : "", policy::mask_name(r.mask->bit))});
    bool seen = !r.func || std::any_of(std::begin(kHookFuncs), std::end(kHookFuncs),
                                       [&](const auto& hf) { return hf.second == *r.func; });
    if (!seen)
      out.push_back({policy::Diagnostic::Severity::warning, r.line, 0, "func",
                     fmt::format("`{}`: the fanotify backend sees a container's execs and opens (BPRM_CHECK, "
                                 "FILE_CHECK, MMAP_CHECK of executables): func={} never applies there",
                                 policy::to_string(r), policy::func_name(*r.func))});
  }
  return out;
}

Result<std::unique_ptr<PolicyView>> make_policy_view(const std::string& policy_text) {
  IMASHIM_TRY(auto p, policy::parse_policy_strict(policy_text, "policy"));
  std::string bad;
  for (const auto& d : policy_diagnostics(p))
    if (d.severity == policy::Diagnostic::Severity::error) bad += "\n  " + d.format("policy");
  if (!bad.empty()) return fail("rules the fanotify backend refuses:" + bad);
  return std::unique_ptr<PolicyView>(new PolicyAdapter(std::move(p)));
}

Result<std::unique_ptr<MeasurementSink>> open_log_sink(const std::filesystem::path& log_dir,
                                                       const std::string& default_template) {
  IMASHIM_TRY(auto desc, formats::resolve_template(default_template));
  IMASHIM_TRY(auto app, formats::MeasurementLogAppender::open(log_dir / "binary_runtime_measurements",
                                                               log_dir / "ascii_runtime_measurements"));
  return std::unique_ptr<MeasurementSink>(new LogSink(std::move(app), log_dir, std::move(desc)));
}

Result<std::unique_ptr<ReferenceDigests>> load_manifests(const std::vector<std::filesystem::path>& paths) {
  if (paths.empty()) return std::unique_ptr<ReferenceDigests>();
  std::vector<label::Manifest> ms;
  for (const auto& p : paths) {
    IMASHIM_TRY(auto m, label::read_manifest(p.string()));
    m.sort();
    ms.push_back(std::move(m));
  }
  return std::unique_ptr<ReferenceDigests>(new ManifestRefs(std::move(ms)));
}

}  // namespace imashim::backends::fanotify
