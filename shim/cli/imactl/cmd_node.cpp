// imactl node policy|label: the host's own IMA, set up the way the CIS guide
// does it by hand: the policy of a profile and its boot line; which
// filesystems to label for it.
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "imashim/formats/hash.hpp"
#include "imashim/node/node_label.hpp"
#include "imashim/node/node_policy.hpp"
#include "imashim/os/file.hpp"

namespace imashim::imactl {
namespace {

struct NodeOpts {
  std::string profile = "cis-ubuntu-20.04";
  std::string write;
  std::string root = "/";
  bool json = false;
  bool dry_run = false;
  bool check = false;
  bool force = false;
  std::string algo = "sha256";
  unsigned jobs = 0;
};

int run_policy(const NodeOpts& o) {
  node::NodeFacts facts = node::gather_facts({o.root, std::nullopt});
  auto np = node::node_policy(o.profile, facts, o.write.empty() ? "/etc/ima/ima-policy" : o.write);
  if (!np) return report_error("node policy: " + np.error().message());
  if (o.json) {
    nlohmann::json j = {{"profile", np->profile}, {"title", np->title},         {"policy", np->text},
                        {"builtin", np->builtin}, {"appraises", np->appraises}, {"boot_line", np->boot_line},
                        {"steps", np->steps},     {"watched", np->watched}};
    std::cout << j.dump(2) << "\n";
  }
  std::ostream& notes = o.json ? std::cerr : (o.write.empty() ? std::cerr : std::cout);
  if (!o.write.empty()) {
    if (auto w = os::write_file_atomic(o.write, np->text); !w) return report_error("node policy: " + w.error().message());
    notes << fmt::format("wrote {} ({})\n", o.write, np->title);
  } else if (!o.json) {
    std::cout << np->text;
  }
  if (o.json) return kExitOk;
  notes << fmt::format("boot line: GRUB_CMDLINE_LINUX=\"{}\"\n", np->boot_line);
  for (std::size_t i = 0; i < np->steps.size(); ++i) notes << fmt::format("{}. {}\n", i + 1, np->steps[i]);
  return kExitOk;
}

nlohmann::json target_json(const node::LabelTarget& t) {
  return {{"target", t.mount.target}, {"source", t.mount.source}, {"fstype", t.mount.fstype},
          {"label", t.label}, {"reason", t.reason}};
}

// A finding's path (relative to the walked filesystem) as the node sees it.
std::string node_path(const std::string& target, const std::string& path) {
  return target == "/" ? path : target + path;
}

nlohmann::json report_json(const std::string& target, const label::LabelReport& r) {
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : r.findings)
    findings.push_back({{"path", node_path(target, f.path)}, {"finding", label::finding_name(f.finding)}, {"reason", f.reason}});
  return {{"files", r.files},     {"bytes", r.bytes},         {"labelled", r.labelled}, {"unchanged", r.unchanged},
          {"verified", r.verified}, {"changed", r.changed},   {"missing", r.missing},   {"wrong_algo", r.wrong_algo},
          {"failed", r.failed},   {"relabelled", r.relabelled}, {"seconds", r.seconds}, {"findings", findings}};
}

void print_report(const node::FilesystemLabel& fl, bool check) {
  const label::LabelReport& r = *fl.report;
  std::cout << fmt::format("  {} files, {:.1f} MiB in {:.1f} s: {} {}, {} already labelled, {} changed, {} missing, "
                           "{} wrong algorithm, {} unlabelable\n",
                           r.files, static_cast<double>(r.bytes) / (1 << 20), r.seconds, check ? r.verified : r.labelled,
                           check ? "verified" : "labelled", r.unchanged, r.changed, r.missing, r.wrong_algo, r.failed);
  constexpr std::size_t kShown = 20;
  std::size_t shown = 0;
  for (const auto& f : r.findings) {
    if (f.finding == label::Finding::skipped) continue;
    if (shown++ == kShown) {
      std::cout << "  ... (--json lists every finding)\n";
      break;
    }
    std::cout << fmt::format("  {:<13} {} {}\n", label::finding_name(f.finding), node_path(fl.target.mount.target, f.path), f.reason);
  }
}

int run_label(const NodeOpts& o) {
  node::NodeFacts facts = node::gather_facts({o.root, std::nullopt});
  auto plan = node::plan_node_label(o.profile, facts);
  if (!plan) return report_error("node label: " + plan.error().message());
  if (o.dry_run) {
    nlohmann::json j = nlohmann::json::array();
    for (const node::LabelTarget& t : *plan) {
      if (o.json) j.push_back(target_json(t));
      else std::cout << fmt::format("{:<5} {:<28} {:<8} {}\n", t.label ? "label" : "skip", t.mount.target, t.mount.fstype, t.reason);
    }
    if (o.json) std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  label::LabelOptions lo;
  lo.algo = *formats::hash_algo_from_name(o.algo);
  lo.mode = o.check ? label::LabelMode::check : label::LabelMode::label;
  lo.force = o.force;
  lo.jobs = o.jobs;
  auto start = [&](const node::LabelTarget& t) {
    if (!o.json) std::cout << fmt::format("{} {} ({}, {})\n", o.check ? "checking" : "labelling", t.mount.target, t.mount.fstype, t.mount.source);
    std::cout.flush();
  };
  auto results = node::label_node(*plan, facts.root, lo, start);
  bool errors = false, findings = false;
  nlohmann::json j = nlohmann::json::array();
  for (const node::FilesystemLabel& fl : results) {
    errors |= !fl.error.empty();
    findings |= fl.report && (o.check ? !fl.report->clean() : !fl.report->complete());
    if (o.json) {
      nlohmann::json e = target_json(fl.target);
      if (fl.report) e["report"] = report_json(fl.target.mount.target, *fl.report);
      if (!fl.error.empty()) e["error"] = fl.error;
      j.push_back(std::move(e));
    } else if (fl.report) {
      print_report(fl, o.check);
    } else {
      std::cerr << "imactl: node label: " << fl.target.mount.target << ": " << fl.error << "\n";
    }
  }
  if (o.json) std::cout << j.dump(2) << "\n";
  if (results.empty() && !o.json) std::cout << "nothing to label for profile " << o.profile << "\n";
  return errors ? kExitError : findings ? kExitFailed : kExitOk;
}

}  // namespace

void add_node_command(CLI::App& app, Action& action) {
  auto opts = std::make_shared<NodeOpts>();
  auto* node = app.add_subcommand("node", "Set up the host's own IMA: policy and boot line of a profile, labelling");
  node->require_subcommand(1);
  auto profiles = CLI::IsMember({"cis-ubuntu-20.04", "k8s-worker", "tcb", "appraise_tcb"});

  auto* policy = node->add_subcommand("policy", "Print (or --write) the host policy of a profile and the boot line to use");
  policy->add_option("--profile", opts->profile, "cis-ubuntu-20.04 (default), k8s-worker, tcb, appraise_tcb")->check(profiles);
  policy->add_option("--write", opts->write, "Write the policy to FILE (e.g. /etc/ima/ima-policy)");
  policy->add_option("--root", opts->root, "Read the node's /proc and /etc under DIR");
  policy->add_flag("--json", opts->json, "Print policy, boot line and steps as JSON");
  policy->callback([opts, &action] { action = [opts] { return run_policy(*opts); }; });

  auto* label = node->add_subcommand("label", "Label the host's filesystems for a profile, one filesystem at a time");
  label->add_option("--profile", opts->profile, "Profile deciding what is appraised")->check(profiles);
  label->add_option("--root", opts->root, "Read the node's mounts under DIR (and label there)");
  label->add_flag("--dry-run", opts->dry_run, "Only show which filesystems would be labelled and why");
  label->add_flag("--check", opts->check, "Write nothing: report missing, changed and wrong-algorithm labels");
  label->add_flag("--force", opts->force, "Relabel files whose label does not match their content");
  label->add_option("--algo", opts->algo, "Hash algorithm (default sha256)")->check(CLI::IsMember({"sha1", "sha256", "sha384", "sha512"}));
  label->add_option("--jobs", opts->jobs, "Hashing threads (default: one per CPU)");
  label->add_flag("--json", opts->json, "Print the plan or the reports as JSON");
  label->callback([opts, &action] { action = [opts] { return run_label(*opts); }; });
}

}  // namespace imashim::imactl
