#include "tpm_options.hpp"

#include <charconv>

#include "imashim/runtime/config.hpp"

namespace imashim::imactl {

void add_tpm_options(CLI::App* cmd, TpmCliOptions& opts) {
  cmd->add_option("--tcti", opts.tcti, "TCTI: device:/dev/tpmrm0, swtpm:host=H,port=P, mssim:... (default: node config)");
  cmd->add_option("--pcr", opts.pcr, "Anchor PCR (default: node config, else 23)")->check(CLI::Range(0, 23));
  cmd->add_option("--log-root", opts.log_root, "Container log root (default: node config)");
  cmd->add_option("--ak-handle", opts.ak_handle, "AK persistent handle, hex (default 0x81000a11)");
  cmd->add_option("--ak-algo", opts.ak_algo, "AK algorithm when it is created: ecc (P-256) or rsa (2048)")
      ->check(CLI::IsMember({"ecc", "rsa"}));
}

Result<ResolvedTpm> resolve_tpm_options(const TpmCliOptions& opts) {
  IMASHIM_TRY(runtime::NodeConfig node, runtime::load_node_config());
  std::string tcti = node.tpm ? node.tpm->tcti : "";
  unsigned pcr = node.tpm ? node.tpm->pcr : tpm::kDefaultAnchorPcr;
  auto on_failure = node.tpm && node.tpm->on_failure == runtime::TpmOnFailure::require ? tpm::OnFailure::require
                                                                                        : tpm::OnFailure::prefer;
  ResolvedTpm r;
  r.log_root = opts.log_root ? std::filesystem::path(*opts.log_root) : node.log_root;
  r.config = tpm::make_anchor_config(opts.tcti.value_or(tcti), opts.pcr.value_or(pcr), on_failure, r.log_root);
  if (!opts.ak_handle.empty()) {
    std::string_view h = opts.ak_handle;
    if (h.starts_with("0x") || h.starts_with("0X")) h.remove_prefix(2);
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(h.data(), h.data() + h.size(), v, 16);
    if (ec != std::errc() || p != h.data() + h.size() || (v >> 24) != 0x81)
      return fail("--ak-handle `" + opts.ak_handle + "` is not a persistent handle (0x81xxxxxx)");
    r.config.tpm.ak_handle = v;
  }
  r.config.tpm.ak_algo = *tpm::ak_algo_from_name(opts.ak_algo);
  return r;
}

}  // namespace imashim::imactl
