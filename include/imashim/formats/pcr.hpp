// PCR banks (virtual or read from a TPM), their text formats, and the boot_aggregate.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/formats/hash.hpp"
#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::formats {

inline constexpr std::uint32_t kImaPcr = 10;
inline constexpr std::uint32_t kPcrCount = 24;

// One bank of PCRs (one hash algorithm), all zero until extended.
class PcrBank {
 public:
  static Result<PcrBank> create(HashAlgo algo);

  HashAlgo algo() const { return algo_; }
  std::size_t digest_size() const { return formats::digest_size(algo_); }
  // pcr[index] = H(pcr[index] || digest); `digest` must be digest_size() bytes.
  Result<void> extend(std::uint32_t index, ByteView digest);
  // Extends with 0xff.. (what the kernel extends for a violation entry).
  void extend_violation(std::uint32_t index);
  // The value (zeros if never extended).
  Bytes value(std::uint32_t index) const;
  // Only the PCRs that were extended or set.
  const std::map<std::uint32_t, Bytes>& values() const { return values_; }
  void set(std::uint32_t index, ByteView value) { values_[index].assign(value.begin(), value.end()); }

 private:
  explicit PcrBank(Hasher h) : algo_(h.algo()), hasher_(std::move(h)) {}
  Bytes& slot(std::uint32_t index);
  HashAlgo algo_;
  Hasher hasher_;
  std::map<std::uint32_t, Bytes> values_;
};

// Several banks, e.g. sha1 + sha256.
Result<std::vector<PcrBank>> make_pcr_banks(std::span<const HashAlgo> algos);
PcrBank* find_bank(std::vector<PcrBank>& banks, HashAlgo algo);
const PcrBank* find_bank(const std::vector<PcrBank>& banks, HashAlgo algo);

// Expected PCR values per bank, as read from a file or the command line.
using PcrValues = std::map<HashAlgo, std::map<std::uint32_t, Bytes>>;

// Parses PCR values. Accepted formats (detected per file):
//  - evmctl / TPM 1.2 sysfs `pcrs`: lines "PCR-10: <hex>" (bytes may be separated by
//    spaces); the bank is `bank` (evmctl's "--pcrs sha256,FILE");
//  - tpm2_pcrread output: "sha256:" then "  10: 0x<HEX>" lines, any number of banks;
//  - a bare hex value (sysfs /sys/class/tpm/tpm0/pcr-sha256/10): PCR `bare_index` of `bank`.
// Without `bank`, the bank is the one whose digest size the values have (sha1, sha256,
// sha384, sha512). Digest sizes are checked against the bank; the error names the line.
Result<PcrValues> parse_pcr_text(std::string_view text, std::optional<HashAlgo> bank,
                                 std::uint32_t bare_index = kImaPcr);
// Parses "BANK:HEX" or "BANK:INDEX:HEX" (the --pcr option), adding it to `into`.
Result<void> parse_pcr_arg(std::string_view arg, PcrValues& into);

// "PCR-00: <hex>" .. "PCR-23: <hex>" lines of one bank: the file `evmctl ima_measurement
// --pcrs <bank>,FILE` reads.
std::string format_pcrs_evmctl(const PcrBank& bank);
// tpm2_pcrread style ("sha256:\n  10: 0x<HEX>\n") of the extended PCRs of every bank.
std::string format_pcrs_tpm2(const std::vector<PcrBank>& banks);

// The boot_aggregate digest (ima_calc_boot_aggregate): H(PCR0 || .. || PCR7) for sha1, and
// H(PCR0 || .. || PCR9) for every other bank. `pcrs` holds at least PCRs 0..7 (0..9).
Result<Bytes> boot_aggregate(HashAlgo algo, std::span<const Bytes> pcrs);

}  // namespace imashim::formats
