// A TPM in memory for tests: PCRs 0-23 in sha1 and sha256 banks, an AK made
// with OpenSSL. Quotes are marshalled exactly as a TPM marshals them.
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <tss2/tss2_mu.h>

#include <array>
#include <cstring>
#include <map>

#include "imashim/tpm/quote.hpp"
#include "imashim/tpm/tpm.hpp"
#include "openssl_keys.hpp"

namespace imashim::tpm {
namespace {

constexpr HashAlgo kBanks[] = {HashAlgo::sha1, HashAlgo::sha256};

detail::Pkey make_key(AkAlgo algo) {
  if (algo == AkAlgo::ecc_p256) return detail::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  return detail::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
}

class SoftwareTpm final : public Tpm {
 public:
  explicit SoftwareTpm(AkAlgo algo) : key_(make_key(algo)) {
    for (HashAlgo b : kBanks)
      for (unsigned i = 0; i < 24; ++i) pcrs_[{b, i}] = Bytes(formats::digest_size(b), 0);
  }

  Result<std::vector<HashAlgo>> banks(unsigned) override { return std::vector<HashAlgo>(std::begin(kBanks), std::end(kBanks)); }

  Result<Bytes> pcr_read(unsigned pcr, HashAlgo bank) override {
    auto it = pcrs_.find({bank, pcr});
    if (it == pcrs_.end()) return fail("software TPM: no PCR " + std::to_string(pcr) + " in that bank");
    return it->second;
  }

  Result<void> pcr_extend(unsigned pcr, const BankDigests& digests) override {
    for (const auto& [bank, digest] : digests) {
      IMASHIM_TRY(Bytes old, pcr_read(pcr, bank));
      if (digest.size() != old.size()) return fail("software TPM: digest size does not match the bank");
      old.insert(old.end(), digest.begin(), digest.end());
      IMASHIM_TRY(Bytes next, formats::hash_bytes(bank, old));
      pcrs_[std::make_pair(bank, pcr)] = std::move(next);
    }
    return {};
  }

  Result<void> pcr_reset(unsigned pcr) override {
    if (pcr != 16 && pcr != 23) return fail("software TPM: PCR " + std::to_string(pcr) + " is not resettable");
    for (HashAlgo b : kBanks) pcrs_[{b, pcr}] = Bytes(formats::digest_size(b), 0);
    return {};
  }

  Result<Bytes> ak_public() override {
    IMASHIM_TRY(TPM2B_PUBLIC pub, detail::public_from_pkey(key_.get()));
    return detail::marshal_public(pub);
  }

  Result<Quote> quote(std::span<const unsigned> pcrs, HashAlgo bank, ByteView nonce) override {
    if (nonce.size() > 64) return fail("software TPM: nonce too long");
    TPMS_ATTEST a{};
    a.magic = TPM2_GENERATED_VALUE;
    a.type = TPM2_ST_ATTEST_QUOTE;
    a.extraData.size = static_cast<UINT16>(nonce.size());
    std::memcpy(a.extraData.buffer, nonce.data(), nonce.size());
    a.clockInfo.clock = ++clock_;
    a.clockInfo.safe = TPM2_YES;
    TPMS_PCR_SELECTION& s = a.attested.quote.pcrSelect.pcrSelections[0];
    a.attested.quote.pcrSelect.count = 1;
    s.hash = *tpm_alg_id(bank);
    s.sizeofSelect = 3;
    std::vector<Bytes> values;
    for (unsigned p = 0; p < 24; ++p) {
      bool selected = false;
      for (unsigned q : pcrs) selected |= q == p;
      if (!selected) continue;
      s.pcrSelect[p / 8] |= static_cast<BYTE>(1u << (p % 8));
      IMASHIM_TRY(Bytes v, pcr_read(p, bank));
      values.push_back(std::move(v));
    }
    IMASHIM_TRY(Bytes digest, pcr_composite(HashAlgo::sha256, values));
    a.attested.quote.pcrDigest.size = static_cast<UINT16>(digest.size());
    std::memcpy(a.attested.quote.pcrDigest.buffer, digest.data(), digest.size());
    Quote q;
    IMASHIM_TRY(q.attest, detail::marshal(Tss2_MU_TPMS_ATTEST_Marshal, a, "the software TPM's quote"));
    IMASHIM_TRY(q.signature, detail::sign_as_tpm(key_.get(), q.attest));
    return q;
  }

 private:
  detail::Pkey key_;
  std::map<std::pair<HashAlgo, unsigned>, Bytes> pcrs_;
  std::uint64_t clock_ = 0;
};

}  // namespace

std::unique_ptr<Tpm> make_software_tpm(AkAlgo ak_algo) { return std::make_unique<SoftwareTpm>(ak_algo); }

}  // namespace imashim::tpm
