// imactl attest [--container ID... | --all] --nonce HEX -o BUNDLE: a TPM quote of
// the anchor PCR with the node anchor log, the container logs and the AK.
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "imashim/formats/measurement_log.hpp"
#include "imashim/tpm/attest.hpp"
#include "tpm_options.hpp"

namespace imashim::imactl {

void add_attest_command(CLI::App& app, Action& action) {
  struct Opts {
    std::vector<std::string> containers;
    bool all = false;
    std::string nonce, output;
    TpmCliOptions tpm;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("attest", "Quote the TPM and bundle the logs a verifier needs");
  auto* one = cmd->add_option("--container", opts->containers, "Container to attest (repeatable)");
  cmd->add_flag("--all", opts->all, "Every container under the log root")->excludes(one);
  cmd->add_option("--nonce", opts->nonce, "The verifier's challenge, hex (1-64 bytes)")->required();
  cmd->add_option("-o,--output", opts->output, "Bundle file to write ('-': stdout)")->required();
  add_tpm_options(cmd, opts->tpm);
  cmd->callback([opts, &action] {
    action = [opts] {
      if (opts->containers.empty() && !opts->all) return report_error("attest: give --container ID or --all");
      auto nonce = from_hex(opts->nonce);
      if (!nonce) return report_error("attest: --nonce: " + nonce.error().message());
      auto resolved = resolve_tpm_options(opts->tpm);
      if (!resolved) return report_error("attest: " + resolved.error().message());
      tpm::AttestRequest req;
      req.config = resolved->config;
      req.log_root = resolved->log_root;
      req.containers = opts->containers;
      req.all = opts->all;
      req.nonce = *nonce;
      auto bundle = tpm::create_bundle(req);
      if (!bundle) return report_error("attest: " + bundle.error().message());
      std::string text = bundle->dump(1) + "\n";
      if (opts->output == "-") {
        std::cout << text;
        return kExitOk;
      }
      auto w = formats::write_file_atomic(opts->output, text);
      if (!w) return report_error("attest: write " + opts->output + ": " + w.error().message());
      std::cerr << "attest: " << (*bundle)["containers"].size() << " containers, quote of PCR "
                << req.config.pcr << " -> " << opts->output << "\n";
      return kExitOk;
    };
  });
}

}  // namespace imashim::imactl
