// Checking a TPM quote without a TPM: parse TPMS_ATTEST, verify the AK's
// signature over it with OpenSSL, recompute the PCR composite digest.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "imashim/tpm/tpm.hpp"

namespace imashim::tpm {

// What a quote's TPMS_ATTEST says.
struct QuoteInfo {
  Bytes nonce;                  // extraData: the verifier's qualifying data
  HashAlgo bank = HashAlgo::sha256;
  std::vector<unsigned> pcrs;   // selected PCRs of `bank`, ascending
  Bytes pcr_digest;             // H(PCR values of the selection, in order)
  std::uint64_t clock = 0;      // TPM clock (ms), reset count, restart count
  std::uint32_t reset_count = 0;
  std::uint32_t restart_count = 0;
  std::uint64_t firmware = 0;
};

// Parses a marshalled TPMS_ATTEST of a quote; rejects anything that is not
// TPM-generated (magic) or not a quote, and selections of more than one bank.
Result<QuoteInfo> parse_quote(ByteView attest);

// Checks `signature` (TPMT_SIGNATURE) over `attest` with the AK (TPM2B_PUBLIC).
Result<void> verify_quote_signature(ByteView ak_public, ByteView attest, ByteView signature);

// The digest TPM2_Quote puts in pcrDigest: H_bank(values in selection order).
Result<Bytes> pcr_composite(HashAlgo bank, const std::vector<Bytes>& values);

// The AK public key (TPM2B_PUBLIC) as a PEM SubjectPublicKeyInfo.
Result<std::string> ak_public_pem(ByteView ak_public);
// True when the PEM public key `pem` is the same key as `ak_public`.
Result<bool> ak_matches_pem(ByteView ak_public, const std::string& pem);

}  // namespace imashim::tpm
