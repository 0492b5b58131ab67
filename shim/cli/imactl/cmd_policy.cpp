// imactl policy check|show|explain|generate: the IMA policy language.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.hpp"
#include "imashim/backends/fanotify_engine.hpp"
#include "imashim/label/manifest.hpp"
#include "imashim/os/file.hpp"
#include "imashim/policy/builtin.hpp"
#include "imashim/policy/evaluate.hpp"
#include "imashim/policy/generate.hpp"
#include "imashim/policy/policy.hpp"

namespace imashim::imactl {
namespace {

using namespace imashim::policy;
using nlohmann::json;


Result<KernelFeatures> features_from(const std::string& kernel, bool no_modsig, bool no_lsm) {
  KernelFeatures f;
  if (!kernel.empty()) {
    IMASHIM_TRY(f, kernel_target(kernel));
  }
  f.modsig = f.modsig && !no_modsig;
  f.lsm_rules = !no_lsm;
  return f;
}

json diagnostic_json(const Diagnostic& d) {
  return {{"severity", d.severity == Diagnostic::Severity::error ? "error" : "warning"},
          {"line", d.line},
          {"column", d.column},
          {"token", d.token},
          {"message", d.message}};
}

// ----- check --------------------------------------------------------------------

struct CheckArgs {
  std::string file, kernel, backend = "kernel";
  bool json = false, print = false, no_modsig = false, no_lsm = false;
};

int run_check(const CheckArgs& a) {
  auto text = os::read_file(a.file);
  if (!text.ok()) return report_error(text.error().message());
  auto features = features_from(a.kernel, a.no_modsig, a.no_lsm);
  if (!features.ok()) return report_error(features.error().message());
  ParseOutput out = parse_policy(*text, *features);
  if (a.backend == "fanotify") {
    // What the fanotify monitor refuses or never applies, after the kernel's own checks.
    for (auto& d : backends::fanotify::policy_diagnostics(out.policy)) out.diagnostics.push_back(std::move(d));
    std::stable_sort(out.diagnostics.begin(), out.diagnostics.end(),
                     [](const Diagnostic& x, const Diagnostic& y) { return x.line < y.line; });
  }
  if (a.json) {
    json diags = json::array();
    for (const auto& d : out.diagnostics) diags.push_back(diagnostic_json(d));
    json doc{{"file", a.file}, {"ok", out.ok()}, {"rules", out.policy.rules.size()}, {"diagnostics", diags}};
    if (!a.kernel.empty()) doc["kernel"] = a.kernel;
    doc["backend"] = a.backend;
    if (a.print) doc["canonical"] = to_string(out.policy);
    std::cout << doc.dump(2) << "\n";
  } else {
    for (const auto& d : out.diagnostics) std::cout << d.format(a.file) << "\n";
    if (a.print) std::cout << to_string(out.policy);
    std::cerr << fmt::format("{}: {} rules, {}\n", a.file, out.policy.rules.size(),
                             out.ok() ? "valid" : "invalid");
  }
  return out.ok() ? kExitOk : kExitFailed;
}

// ----- show -----------------------------------------------------------------------

int run_show(const std::string& name, bool as_json, bool watched_only) {
  auto prof = profile(name);
  Policy policy;
  std::string title;
  std::vector<WatchedFile> watched;
  if (prof.ok()) {
    policy = std::move(prof->policy);
    title = prof->title;
    watched = std::move(prof->watched);
  } else {
    auto b = named_policy(name);
    if (!b.ok()) return report_error(b.error().message());
    policy = std::move(*b);
    title = fmt::format("the kernel's built-in ima_policy={}", name);
  }
  if (as_json) {
    json rules = json::array();
    for (const auto& r : policy.rules) rules.push_back({{"rule", to_string(r)}, {"comments", r.comments}});
    json files = json::array();
    for (const auto& w : watched) files.push_back({{"path", w.path}, {"recommendation", w.recommendation}});
    std::cout << json{{"name", name}, {"title", title}, {"rules", rules}, {"watched", files},
                      {"fail_unverifiable_sigs", policy.fail_unverifiable_sigs}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  if (watched_only) {
    for (const auto& w : watched) std::cout << w.path << "\t" << w.recommendation << "\n";
    return kExitOk;
  }
  std::cout << "# " << name << ": " << title << "\n";
  if (policy.fail_unverifiable_sigs)
    std::cout << "# fail_securely: signatures on unverifiable (FUSE) mounts fail; it adds no rule\n";
  for (const auto& w : watched) std::cout << "# watches " << w.path << " (" << w.recommendation << ")\n";
  std::cout << to_string(policy);
  return kExitOk;
}

// ----- explain --------------------------------------------------------------------

struct ExplainArgs {
  std::string file, profile, func = "FILE_CHECK", mask = "MAY_READ", kernel;
  std::optional<std::uint32_t> uid, euid, suid, gid, egid, fowner, fgroup;
  std::string fsmagic, fsname, fsuuid, data;
  bool cap_setuid = false, cap_setgid = false, json = false;
};

Result<std::uint32_t> parse_mask_arg(const std::string& text) {
  std::uint32_t mask = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    auto pos = rest.find('|');
    auto name = rest.substr(0, pos);
    auto bit = mask_from_name(name);
    if (!bit) return fail(fmt::format("--mask: unknown `{}` (MAY_EXEC, MAY_WRITE, MAY_READ, MAY_APPEND, joined by |)", name));
    mask |= *bit;
    rest.remove_prefix(pos == std::string_view::npos ? rest.size() : pos + 1);
  }
  return mask;
}

Result<std::uint64_t> parse_fsmagic_arg(const std::string& text) {
  for (const auto& fs : pseudo_filesystems())
    if (fs.name == text) return fs.magic;
  try {
    std::size_t used = 0;
    std::uint64_t v = std::stoull(text, &used, 16);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  return fail(fmt::format("--fsmagic: `{}` is neither a hex magic nor a known filesystem name", text));
}

Result<Access> access_from(const ExplainArgs& a) {
  Access acc;
  auto f = func_from_name(a.func);
  if (!f) return fail(fmt::format("--func: unknown hook `{}`", a.func));
  acc.func = *f;
  IMASHIM_TRY(acc.mask, parse_mask_arg(a.mask));
  acc.uid = a.uid.value_or(0);
  acc.euid = a.euid.value_or(acc.uid);
  acc.suid = a.suid.value_or(acc.euid);
  acc.gid = a.gid.value_or(0);
  acc.egid = a.egid.value_or(acc.gid);
  acc.sgid = acc.egid;
  acc.cap_setuid = a.cap_setuid;
  acc.cap_setgid = a.cap_setgid;
  acc.fowner = a.fowner.value_or(0);
  acc.fgroup = a.fgroup.value_or(0);
  if (!a.fsmagic.empty()) {
    IMASHIM_TRY(acc.fsmagic, parse_fsmagic_arg(a.fsmagic));
  }
  acc.fsname = a.fsname;
  if (!a.fsuuid.empty()) {
    acc.fsuuid = uuid_from_string(a.fsuuid);
    if (!acc.fsuuid) return fail(fmt::format("--fsuuid: `{}` is not a UUID", a.fsuuid));
  }
  if (!a.data.empty()) acc.func_data = a.data;
  return acc;
}

Result<Policy> load_policy(const ExplainArgs& a) {
  if (!a.profile.empty()) return named_policy(a.profile);
  if (a.file.empty()) return fail("give a policy FILE or --profile NAME");
  IMASHIM_TRY(auto text, os::read_file(a.file));
  KernelFeatures f;
  if (!a.kernel.empty()) {
    IMASHIM_TRY(f, kernel_target(a.kernel));
  }
  return parse_policy_strict(text, a.file, f);
}

json class_json(const Policy& p, const ClassDecision& c) {
  json j{{"act", c.act}};
  if (c.rule) {
    const Rule& r = p.rules[*c.rule];
    j["rule_index"] = *c.rule;
    j["line"] = r.line;
    j["rule"] = to_string(r);
  }
  return j;
}

int run_explain(const ExplainArgs& a) {
  auto policy = load_policy(a);
  if (!policy.ok()) return report_error(policy.error().message());
  auto access = access_from(a);
  if (!access.ok()) return report_error(access.error().message());
  Decision d = evaluate(*policy, *access);
  constexpr ActionClass classes[] = {ActionClass::measure, ActionClass::appraise, ActionClass::audit,
                                     ActionClass::hash};
  if (a.json) {
    json j = json::object();
    for (auto c : classes) j[std::string(action_class_name(c))] = class_json(*policy, d.of(c));
    if (d.pcr) j["pcr"] = *d.pcr;
    if (d.template_name) j["template"] = *d.template_name;
    if (d.appraise_type) j["appraise_type"] = appraise_type_name(*d.appraise_type);
    j["permit_directio"] = d.permit_directio;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  for (auto c : classes) {
    const ClassDecision& cd = d.of(c);
    std::string why = "no rule matched";
    if (cd.rule) {
      const Rule& r = policy->rules[*cd.rule];
      why = fmt::format("rule {}{}: {}", *cd.rule + 1, r.line ? fmt::format(" (line {})", r.line) : "",
                        to_string(r));
    }
    std::cout << fmt::format("{:<8} {:<3}  {}\n", action_class_name(c), cd.act ? "yes" : "no", why);
  }
  if (d.pcr) std::cout << fmt::format("pcr      {}\n", *d.pcr);
  if (d.template_name) std::cout << fmt::format("template {}\n", *d.template_name);
  if (d.appraise_type) std::cout << fmt::format("appraise_type {}\n", appraise_type_name(*d.appraise_type));
  return kExitOk;
}

// ----- generate --------------------------------------------------------------------

struct GenerateArgs {
  std::string rootfs, manifest, image_config, mode = "measure", hash = "sha256", template_name = "ima-ng", profile, kernel;
  std::vector<std::string> annotations, volumes;
  bool signatures = false, json = false;
  std::optional<int> pcr;
};

Result<GenerateInput> generate_input(const GenerateArgs& a) {
  GenerateInput in;
  if (a.rootfs.empty() == a.manifest.empty()) return fail("give one of --rootfs DIR and --manifest FILE");
  if (!a.rootfs.empty()) {
    IMASHIM_TRY(in.files, scan_rootfs(a.rootfs));
  } else {
    IMASHIM_TRY(auto m, label::read_manifest(a.manifest));
    for (auto& e : m.entries)
      in.files.push_back(image_file_from_manifest(std::move(e.path), e.mode, e.uid, e.gid, e.size));
  }
  if (!a.image_config.empty()) {
    IMASHIM_TRY(auto text, os::read_file(a.image_config));
    IMASHIM_TRY(in.image, parse_image_config(text, a.image_config));
  }
  for (const auto& kv : a.annotations) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return fail(fmt::format("--annotation `{}`: expected KEY=VALUE", kv));
    in.annotations[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& v : a.volumes) {
    // DEST[:fsmagic=HEX|:fsuuid=UUID]
    Volume vol;
    auto colon = v.find(':');
    vol.destination = v.substr(0, colon);
    if (colon != std::string::npos) {
      std::string spec = v.substr(colon + 1);
      if (spec.rfind("fsuuid=", 0) == 0) {
        vol.fsuuid = uuid_from_string(spec.substr(7));
      } else if (spec.rfind("fsmagic=", 0) == 0) {
        IMASHIM_TRY(vol.fsmagic, parse_fsmagic_arg(spec.substr(8)));
      }
      if (!vol.fsuuid && !vol.fsmagic) return fail(fmt::format("--volume `{}`: expected DEST[:fsmagic=HEX|:fsuuid=UUID]", v));
    }
    in.volumes.push_back(vol);
  }
  auto mode = policy_mode_from_name(a.mode);
  if (!mode) return fail(fmt::format("--mode `{}`: off, measure, log or enforce", a.mode));
  in.node.mode = *mode;
  auto hash = formats::hash_algo_from_name(a.hash);
  if (!hash) return fail(fmt::format("--hash `{}`: unknown algorithm", a.hash));
  in.node.hash = *hash;
  in.node.template_name = a.template_name;
  in.node.profile = a.profile;
  in.node.require_signatures = a.signatures;
  in.node.pcr = a.pcr;
  if (!a.kernel.empty()) {
    IMASHIM_TRY(in.kernel, kernel_target(a.kernel));
  }
  return in;
}

int run_generate(const GenerateArgs& a) {
  auto in = generate_input(a);
  if (!in.ok()) return report_error(in.error().message());
  auto out = generate_policy(*in);
  if (!out.ok()) return report_error(out.error().message());
  if (a.json) {
    std::cout << json{{"mode", policy_mode_name(out->mode)}, {"policy", to_string(out->policy)},
                      {"notes", out->notes}, {"files", in->files.size()}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("# imashim policy for {} {} ({} files), mode {}\n", a.rootfs.empty() ? "manifest" : "rootfs",
                           a.rootfs.empty() ? a.manifest : a.rootfs, in->files.size(), policy_mode_name(out->mode));
  for (const auto& n : out->notes) std::cout << "# note: " << n << "\n";
  std::cout << to_string(out->policy);
  return kExitOk;
}

}  // namespace

void add_policy_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("policy", "Check, show, explain and generate IMA policies");
  cmd->require_subcommand(1);

  auto check = std::make_shared<CheckArgs>();
  auto* c = cmd->add_subcommand("check", "Validate a policy file as the kernel would; exit 1 if invalid");
  c->add_option("FILE", check->file, "policy file")->required();
  c->add_option("--kernel", check->kernel, "target kernel: a version (5.4, 5.10, 6.1, ...) or debian-12; flags tokens it lacks");
  c->add_flag("--no-modsig", check->no_modsig, "target kernel without CONFIG_IMA_APPRAISE_MODSIG");
  c->add_flag("--no-lsm", check->no_lsm, "target kernel without an LSM for subj_*/obj_* rules");
  c->add_option("--backend", check->backend,
                "also check what this backend can evaluate: kernel (the grammar only) or fanotify (refuses "
                "mask=MAY_WRITE/MAY_APPEND rules, warns about funcs it never sees)")
      ->check(CLI::IsMember({"kernel", "fanotify"}))
      ->capture_default_str();
  c->add_flag("--print", check->print, "print the valid rules in canonical form");
  c->add_flag("--json", check->json, "JSON output");
  c->callback([&action, check] { action = [check] { return run_check(*check); }; });

  auto show = std::make_shared<std::tuple<std::string, bool, bool>>();
  auto* s = cmd->add_subcommand("show", "Print a built-in policy or profile");
  s->add_option("--profile", std::get<0>(*show),
                "tcb, original_tcb, appraise_tcb, secure_boot, critical_data, fail_securely (or a|b), "
                "cis-ubuntu-20.04, k8s-worker")
      ->required();
  s->add_flag("--json", std::get<1>(*show), "JSON output (rules and watched files)");
  s->add_flag("--watched", std::get<2>(*show), "print only the files the profile watches");
  s->callback([&action, show] {
    action = [show] { return run_show(std::get<0>(*show), std::get<1>(*show), std::get<2>(*show)); };
  });

  auto ex = std::make_shared<ExplainArgs>();
  auto* e = cmd->add_subcommand("explain", "Which rule decides each action class for one access");
  e->add_option("FILE", ex->file, "policy file");
  e->add_option("--profile", ex->profile, "a built-in policy or profile instead of FILE");
  e->add_option("--func", ex->func, "hook (BPRM_CHECK, FILE_CHECK, MMAP_CHECK, ...)")->capture_default_str();
  e->add_option("--mask", ex->mask, "access mask, e.g. MAY_READ or MAY_READ|MAY_WRITE")->capture_default_str();
  e->add_option("--uid", ex->uid, "subject uid (default 0)");
  e->add_option("--euid", ex->euid, "subject euid (default: uid)");
  e->add_option("--suid", ex->suid, "subject saved uid (default: euid)");
  e->add_option("--gid", ex->gid, "subject gid (default 0)");
  e->add_option("--egid", ex->egid, "subject egid (default: gid)");
  e->add_option("--fowner", ex->fowner, "file owner uid (default 0)");
  e->add_option("--fgroup", ex->fgroup, "file group gid (default 0)");
  e->add_option("--fsmagic", ex->fsmagic, "filesystem magic (hex) or name (tmpfs, proc, ...)");
  e->add_option("--fsname", ex->fsname, "filesystem type name");
  e->add_option("--fsuuid", ex->fsuuid, "filesystem UUID");
  e->add_option("--data", ex->data, "KEY_CHECK keyring or CRITICAL_DATA label");
  e->add_option("--kernel", ex->kernel, "target kernel version for parsing FILE");
  e->add_flag("--cap-setuid", ex->cap_setuid, "the subject holds CAP_SETUID");
  e->add_flag("--cap-setgid", ex->cap_setgid, "the subject holds CAP_SETGID");
  e->add_flag("--json", ex->json, "JSON output");
  e->callback([&action, ex] { action = [ex] { return run_explain(*ex); }; });

  auto gen = std::make_shared<GenerateArgs>();
  auto* g = cmd->add_subcommand("generate", "Derive a container's policy from its image");
  g->add_option("--rootfs", gen->rootfs, "the image's root filesystem");
  g->add_option("--manifest", gen->manifest, "a label manifest instead of --rootfs");
  g->add_option("--image-config", gen->image_config, "OCI image config JSON");
  g->add_option("--annotation", gen->annotations, "container annotation KEY=VALUE (org.imashim.*)");
  g->add_option("--volume", gen->volumes, "writable volume DEST[:fsmagic=HEX|:fsuuid=UUID]");
  g->add_option("--mode", gen->mode, "node mode: off, measure, log, enforce")->capture_default_str();
  g->add_option("--hash", gen->hash, "hash algorithm of the labels")->capture_default_str();
  g->add_option("--template", gen->template_name, "measurement template")->capture_default_str();
  g->add_option("--profile", gen->profile, "node profile applied first");
  g->add_option("--pcr", gen->pcr, "PCR for generated measure rules");
  g->add_option("--kernel", gen->kernel, "target kernel version");
  g->add_flag("--signatures", gen->signatures, "require signatures (appraise_type=imasig)");
  g->add_flag("--json", gen->json, "JSON output");
  g->callback([&action, gen] { action = [gen] { return run_generate(*gen); }; });
  add_policy_export_subcommand(cmd, action);  // cmd_policy_export.cpp
}

}  // namespace imashim::imactl
