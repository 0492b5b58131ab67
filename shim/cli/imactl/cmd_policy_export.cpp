// imactl policy export --format keylime MANIFEST... [--exclude REGEX]... [--release N] [-o FILE]:
// a Keylime runtime policy whose digests are the layer manifests' (docs/tpm.md).
#include <iostream>

#include "commands.hpp"
#include "imashim/formats/measurement_log.hpp"
#include "imashim/tpm/reference.hpp"

namespace imashim::imactl {

void add_policy_export_subcommand(CLI::App* policy, Action& action) {
  struct Opts {
    std::string format = "keylime";
    std::vector<std::string> manifests, excludes;
    std::uint64_t release = 0;
    std::string output = "-";
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = policy->add_subcommand("export", "Export reference digests as another tool's policy");
  cmd->add_option("--format", opts->format, "Policy format: keylime (a Keylime runtime policy, version 1)")
      ->check(CLI::IsMember({"keylime"}));
  cmd->add_option("manifests", opts->manifests, "Layer manifests (imactl label --manifest)")->required();
  cmd->add_option("--exclude", opts->excludes, "Path regex Keylime should not check (repeatable)");
  cmd->add_option("--release", opts->release, "The policy's release number");
  cmd->add_option("-o,--output", opts->output, "File to write ('-': stdout)");
  cmd->callback([opts, &action] {
    action = [opts] {
      std::vector<std::filesystem::path> paths(opts->manifests.begin(), opts->manifests.end());
      auto ref = tpm::reference_from_manifests(paths);
      if (!ref) return report_error("policy export: " + ref.error().message());
      tpm::Reference check;
      for (const auto& e : opts->excludes)
        if (auto r = check.add_exclude(e); !r) return report_error("policy export: --exclude: " + r.error().message());
      tpm::KeylimeExportOptions ko;
      ko.excludes = opts->excludes;
      ko.release = opts->release;
      std::string text = tpm::keylime_policy(*ref, ko).dump(2) + "\n";
      if (opts->output == "-") {
        std::cout << text;
        return kExitOk;
      }
      if (auto w = formats::write_file_atomic(opts->output, text); !w)
        return report_error("policy export: write " + opts->output + ": " + w.error().message());
      std::cerr << "policy export: " << ref->paths() << " paths -> " << opts->output << "\n";
      return kExitOk;
    };
  });
}

}  // namespace imashim::imactl
