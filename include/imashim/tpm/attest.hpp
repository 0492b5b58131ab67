// Attestation bundles: everything a remote verifier needs to check containers'
// measurement logs against a TPM quote, in one JSON document.
//
//   {"format": "imashim-attestation", "version": 1,
//    "nonce": hex, "pcr": 23, "bank": "sha256", "pcr_value": hex,
//    "quote": {"attest": base64 TPMS_ATTEST, "signature": base64 TPMT_SIGNATURE},
//    "ak": {"public": base64 TPM2B_PUBLIC, "pem": "-----BEGIN PUBLIC KEY-----..."},
//    "anchor_log": base64 (node anchor log, binary),
//    "containers": [{"id": "...", "log": base64 (binary log), "unanchored": "why" | null}]}
//
// verify_bundle() checks, in order: the AK (pinned with --ak-pub, or the
// bundle's own, which proves nothing about the node), the quote signature and
// nonce, that the quote covers the anchor PCR and the bundle's PCR value, the
// node anchor log against that value, each container log against every anchor
// taken of it, and each measured file against the reference digests.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/tpm/anchor.hpp"
#include "imashim/tpm/quote.hpp"
#include "imashim/tpm/reference.hpp"
#include "imashim/tpm/tpm.hpp"

namespace imashim::tpm {

inline constexpr std::string_view kBundleFormat = "imashim-attestation";

struct AttestRequest {
  AnchorConfig config;                   // TPM, anchor PCR and anchor directory
  std::filesystem::path log_root;        // <log_root>/<id>/binary_runtime_measurements
  std::vector<std::string> containers;   // empty with all = true: every container under log_root
  bool all = false;
  Bytes nonce;                           // the verifier's challenge, 1..64 bytes
};

// Quotes the anchor PCR and collects the logs (holding the anchor lock, so no
// anchor lands between reading the PCR and the anchor log).
Result<nlohmann::json> create_bundle(Tpm& tpm, const AttestRequest& request);
Result<nlohmann::json> create_bundle(const AttestRequest& request);

struct VerifyOptions {
  std::optional<Bytes> nonce;          // the challenge the verifier sent; unchecked when absent
  std::optional<std::string> ak_pem;   // the node's AK, known out of band
  std::optional<Reference> reference;  // reference digests; files unchecked when absent
};

struct FileResult {
  std::size_t index = 0;  // entry number in the container log
  std::string path;
  std::string digest;     // "<algo>:<hex>"
  FileVerdict verdict = FileVerdict::ok;
  bool anchored = true;   // within the entries the TPM anchor covers
};

struct ContainerResult {
  std::string id;
  std::size_t log_entries = 0;
  std::size_t anchored_entries = 0;  // by the last anchor
  std::size_t anchors = 0;
  bool final_anchor = false;         // the last anchor was taken at delete
  std::optional<std::string> unanchored;  // the node marked the log unanchored (why)
  std::vector<std::string> problems;      // integrity failures (log altered, swapped, truncated)
  std::vector<FileResult> files;          // entries that are not ok (or all with verbose)
  std::size_t files_ok = 0, files_unknown = 0, files_wrong = 0, files_excluded = 0;
  bool ok() const;
};

struct VerifyReport {
  std::vector<std::string> problems;  // quote, nonce, AK, anchor log
  std::vector<std::string> warnings;  // what was not checked
  std::optional<QuoteInfo> quote;
  std::vector<ContainerResult> containers;
  bool ok() const;
  nlohmann::json to_json() const;
  std::string to_text() const;
};

// Checks a bundle. A malformed bundle is an error; a bundle that fails a check
// is a report with problems.
Result<VerifyReport> verify_bundle(const nlohmann::json& bundle, const VerifyOptions& options);

}  // namespace imashim::tpm
