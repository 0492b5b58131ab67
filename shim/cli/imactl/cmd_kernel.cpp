// imactl kernel check-policy|load-policy|detect — talk to the kernel's IMA.
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "imashim/backends/kernel.hpp"
#include "imashim/os/file.hpp"
#include "imashim/backends/select.hpp"

namespace imashim::imactl {
namespace {

struct KernelOptions {
  std::string policy_path;
  std::string securityfs = "/sys/kernel/security";
};


std::filesystem::path policy_file(const KernelOptions& o) {
  return std::filesystem::path(o.securityfs) / "ima" / "policy";
}

int run_check(const KernelOptions& o) {
  auto text = os::read_file(o.policy_path);
  if (!text) return report_error(text.error().message());
  auto files = backends::kernel::real_sys_files();
  auto verdicts = backends::kernel::check_policy(*files, policy_file(o), *text);
  if (!verdicts) return report_error(verdicts.error().message());
  int rejected = 0;
  for (const auto& v : *verdicts) {
    std::cout << (v.accepted() ? "accept" : "reject") << '\t' << v.rule.rule << '\n';
    if (!v.accepted()) {
      ++rejected;
      std::cerr << "line " << v.rule.line << ": " << std::strerror(v.error) << '\n';
    }
  }
  return rejected ? kExitFailed : kExitOk;
}

int run_load(const KernelOptions& o) {
  auto text = os::read_file(o.policy_path);
  if (!text) return report_error(text.error().message());
  auto files = backends::kernel::real_sys_files();
  auto r = backends::kernel::load_policy(*files, policy_file(o), *text);
  if (!r) return report_error(r.error().message());
  std::cout << "loaded " << backends::kernel::policy_rules(*text).size() << " rules into "
            << policy_file(o).string() << '\n';
  return kExitOk;
}

int run_detect(const backends::DetectOptions& o) {
  auto d = backends::detect_backend(o);
  std::cout << "backend: " << backends::kind_name(d.kind) << "\nreason: " << d.reason << '\n';
  for (const auto& r : d.rejected) std::cout << "not chosen: " << r << '\n';
  return kExitOk;
}

}  // namespace

void add_kernel_command(CLI::App& app, Action& action) {
  auto* kernel = app.add_subcommand("kernel", "Talk to the kernel's IMA (policy verdicts and loading)");
  kernel->require_subcommand(1);
  auto opts = std::make_shared<KernelOptions>();
  auto* check = kernel->add_subcommand(
      "check-policy", "Print the kernel's verdict on each rule (accept|reject<TAB>rule), loading nothing");
  auto* load = kernel->add_subcommand("load-policy", "Load a policy (one per boot on most kernels)");
  for (auto* sub : {check, load}) {
    sub->add_option("policy", opts->policy_path, "policy file, one rule per line ('-': stdin)")->required();
    sub->add_option("--securityfs", opts->securityfs, "securityfs mount point");
  }
  auto detect_opts = std::make_shared<backends::DetectOptions>();
  auto* detect = kernel->add_subcommand("detect", "Show which backend this node gets (ns-mount, ns-user, host, fanotify) and why");
  detect->add_option("--sys", detect_opts->sys, "sysfs root");
  detect->add_option("--proc", detect_opts->proc, "procfs root");
  detect->callback([&action, detect_opts] { action = [detect_opts] { return run_detect(*detect_opts); }; });
  check->callback([&action, opts] { action = [opts] { return run_check(*opts); }; });
  load->callback([&action, opts] { action = [opts] { return run_load(*opts); }; });
}

}  // namespace imashim::imactl
