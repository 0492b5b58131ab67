// Access to a TPM 2.0: PCR read/extend/reset and quotes signed by an
// attestation key (AK). The real implementation talks to the TPM through
// tpm2-tss (ESAPI over the TCTI loader: "device:/dev/tpmrm0",
// "swtpm:host=127.0.0.1,port=2321", "mssim:..."); a software implementation
// with the same interface lets tests run without any TPM.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "imashim/formats/hash.hpp"
#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::tpm {

using formats::HashAlgo;

// TPM 2.0 algorithm ids (TPM2_ALG_ID) of the hash algorithms PCR banks use.
std::optional<std::uint16_t> tpm_alg_id(HashAlgo algo);
std::optional<HashAlgo> hash_algo_from_tpm_alg(std::uint16_t alg_id);

// The attestation key's algorithm: a restricted signing key, ECDSA P-256 or RSASSA 2048, SHA-256.
enum class AkAlgo { ecc_p256, rsa2048 };
std::string_view ak_algo_name(AkAlgo algo);  // "ecc", "rsa"
std::optional<AkAlgo> ak_algo_from_name(std::string_view name);

// Owner-hierarchy persistent handle (TCG handle registry: 0x81000000-0x8100FFFF
// is for owner-created keys; 0x8101xxxx is the endorsement range, 0x8180xxxx platform).
inline constexpr std::uint32_t kDefaultAkHandle = 0x81000A11;

// A quote as the TPM produced it. Both blobs are kept in the TPM's own wire
// format so that anyone can re-check them with any TPM library.
struct Quote {
  Bytes attest;     // TPMS_ATTEST (the bytes the AK signed)
  Bytes signature;  // TPMT_SIGNATURE, marshalled
};

// One digest per PCR bank, as TPM2_PCR_Extend takes them.
using BankDigests = std::vector<std::pair<HashAlgo, Bytes>>;

class Tpm {
 public:
  virtual ~Tpm() = default;
  // The hash algorithms of the banks in which `pcr` is allocated.
  virtual Result<std::vector<HashAlgo>> banks(unsigned pcr) = 0;
  virtual Result<Bytes> pcr_read(unsigned pcr, HashAlgo bank) = 0;
  // Extends `pcr` with one digest per bank named in `digests`.
  virtual Result<void> pcr_extend(unsigned pcr, const BankDigests& digests) = 0;
  // TPM2_PCR_Reset: only PCR 16 (debug) and 23 (application) allow it.
  virtual Result<void> pcr_reset(unsigned pcr) = 0;
  // The AK's public area as a marshalled TPM2B_PUBLIC; loads the key from its
  // persistent handle or, when the handle is empty, creates and persists it.
  virtual Result<Bytes> ak_public() = 0;
  // TPM2_Quote over `pcrs` of `bank`, with `nonce` (at most 64 bytes) as qualifying data.
  virtual Result<Quote> quote(std::span<const unsigned> pcrs, HashAlgo bank, ByteView nonce) = 0;
};

struct TpmOptions {
  std::string tcti;  // TCTI loader string; empty: the loader's default (tabrmd, then /dev/tpmrm0, ...)
  std::uint32_t ak_handle = kDefaultAkHandle;
  AkAlgo ak_algo = AkAlgo::ecc_p256;  // used when the AK has to be created
};

// Connects to the TPM through the TCTI loader (ESAPI). The error names the
// TCTI and the decoded TSS2 return code.
Result<std::unique_ptr<Tpm>> open_tpm(const TpmOptions& options);

// A software TPM for tests: PCRs in memory (sha1 and sha256 banks), an AK made
// with OpenSSL; its quotes have the same wire format as a real TPM's.
std::unique_ptr<Tpm> make_software_tpm(AkAlgo ak_algo = AkAlgo::ecc_p256);

// "TPM2_PCR_Extend: tpm:error(2.0): ..." — the TSS2 return code decoded.
std::string tss2_error(std::string_view what, std::uint32_t rc);

}  // namespace imashim::tpm
