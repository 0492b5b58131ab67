// The TPM options imactl attest and anchor share: defaults from the node
// config (its "tpm" section and log_root), each overridable on the command line.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <optional>
#include <string>

#include "imashim/tpm/anchor.hpp"

namespace imashim::imactl {

struct TpmCliOptions {
  std::optional<std::string> tcti;
  std::optional<unsigned> pcr;
  std::optional<std::string> log_root;
  std::string ak_handle;
  std::string ak_algo = "ecc";
};

void add_tpm_options(CLI::App* cmd, TpmCliOptions& opts);

struct ResolvedTpm {
  tpm::AnchorConfig config;
  std::filesystem::path log_root;
};
// Reads the node config (IMASHIM_CONFIG or /etc/imashim/config.json) and applies the options.
Result<ResolvedTpm> resolve_tpm_options(const TpmCliOptions& opts);

}  // namespace imashim::imactl
