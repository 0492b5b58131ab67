// imactl verify BUNDLE [--nonce HEX] [--ak-pub FILE] [--reference MANIFEST... |
// --keylime-policy FILE] [--json]: checks an attestation bundle; exit 0 when
// everything verifies, 1 when a check failed, 2 when the input is unusable.
#include <iostream>

#include "commands.hpp"
#include "imashim/os/file.hpp"
#include "imashim/formats/measurement_log.hpp"
#include "imashim/tpm/attest.hpp"

namespace imashim::imactl {
namespace {

struct Opts {
  std::string bundle, nonce, ak_pub, keylime;
  std::vector<std::string> manifests;
  bool json = false;
};

Result<tpm::VerifyOptions> verify_options(const Opts& o) {
  tpm::VerifyOptions v;
  if (!o.nonce.empty()) {
    auto n = from_hex(o.nonce);
    if (!n) return std::move(n).with_context("--nonce");
    v.nonce = *n;
  }
  if (!o.ak_pub.empty()) {
    IMASHIM_TRY(v.ak_pem, os::read_file(o.ak_pub));
  }
  if (!o.keylime.empty()) {
    IMASHIM_TRY(std::string text, os::read_file(o.keylime));
    IMASHIM_TRY(v.reference, tpm::reference_from_keylime(text, o.keylime));
  } else if (!o.manifests.empty()) {
    std::vector<std::filesystem::path> paths(o.manifests.begin(), o.manifests.end());
    IMASHIM_TRY(v.reference, tpm::reference_from_manifests(paths));
  }
  return v;
}

}  // namespace

void add_verify_command(CLI::App& app, Action& action) {
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("verify", "Verify an attestation bundle: quote, anchors, logs, file digests");
  cmd->add_option("bundle", opts->bundle, "Bundle written by imactl attest")->required();
  cmd->add_option("--nonce", opts->nonce, "The challenge given to imactl attest, hex (detects replayed quotes)");
  cmd->add_option("--ak-pub", opts->ak_pub, "The node's AK public key (PEM), known out of band");
  auto* ref = cmd->add_option("--reference", opts->manifests, "Layer manifest with reference digests (repeatable)");
  cmd->add_option("--keylime-policy", opts->keylime, "Keylime runtime policy with reference digests")->excludes(ref);
  cmd->add_flag("--json", opts->json, "Print the report as JSON");
  cmd->callback([opts, &action] {
    action = [opts] {
      auto text = os::read_file(opts->bundle);
      if (!text) return report_error("verify: " + text.error().message());
      auto bundle = nlohmann::json::parse(*text, nullptr, false);
      if (bundle.is_discarded()) return report_error("verify: " + opts->bundle + ": not JSON");
      auto vopts = verify_options(*opts);
      if (!vopts) return report_error("verify: " + vopts.error().message());
      auto report = tpm::verify_bundle(bundle, *vopts);
      if (!report) return report_error("verify: " + opts->bundle + ": " + report.error().message());
      if (opts->json) std::cout << report->to_json().dump(2) << "\n";
      else std::cout << report->to_text();
      return report->ok() ? kExitOk : kExitFailed;
    };
  });
}

}  // namespace imashim::imactl
