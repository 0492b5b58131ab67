// The real TPM: tpm2-tss ESAPI over the TCTI loader.
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include <cstdlib>
#include <cstring>

#include "imashim/tpm/tpm.hpp"
#include "openssl_keys.hpp"

namespace imashim::tpm {
namespace {

constexpr unsigned kMaxPcr = 23;

// ESAPI allocates outputs; this frees them at scope exit.
template <typename T>
struct EsysPtr {
  T* p = nullptr;
  ~EsysPtr() { Esys_Free(p); }
  T** out() { return &p; }
  T* operator->() const { return p; }
};

Unexpected tss2_fail(std::string_view what, TSS2_RC rc) { return fail(tss2_error(what, rc)); }

Result<void> check_pcr_index(unsigned pcr) {
  if (pcr > kMaxPcr) return fail("PCR " + std::to_string(pcr) + " does not exist (0-23)");
  return {};
}

Result<TPMI_ALG_HASH> tpm_hash(HashAlgo algo) {
  auto id = tpm_alg_id(algo);
  if (!id) return fail("hash algorithm " + std::string(formats::hash_algo_name(algo)) + " has no TPM PCR bank");
  return static_cast<TPMI_ALG_HASH>(*id);
}

Result<TPML_PCR_SELECTION> selection(std::span<const unsigned> pcrs, HashAlgo bank) {
  IMASHIM_TRY(TPMI_ALG_HASH hash, tpm_hash(bank));
  TPML_PCR_SELECTION sel{};
  sel.count = 1;
  sel.pcrSelections[0].hash = hash;
  sel.pcrSelections[0].sizeofSelect = 3;
  for (unsigned pcr : pcrs) {
    IMASHIM_TRY_VOID(check_pcr_index(pcr));
    sel.pcrSelections[0].pcrSelect[pcr / 8] |= static_cast<BYTE>(1u << (pcr % 8));
  }
  return sel;
}

// The AK template: a restricted signing key under the owner hierarchy.
// Primary keys derive from the hierarchy seed, so the same template yields the
// same key until the owner hierarchy is cleared.
TPM2B_PUBLIC ak_template(AkAlgo algo) {
  TPM2B_PUBLIC pub{};
  TPMT_PUBLIC& a = pub.publicArea;
  a.nameAlg = TPM2_ALG_SHA256;
  a.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_FIXEDTPM |
                       TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_USERWITHAUTH;
  if (algo == AkAlgo::ecc_p256) {
    a.type = TPM2_ALG_ECC;
    a.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    a.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    a.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    a.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    a.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  } else {
    a.type = TPM2_ALG_RSA;
    a.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    a.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
    a.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    a.parameters.rsaDetail.keyBits = 2048;
    a.parameters.rsaDetail.exponent = 0;
  }
  return pub;
}

// TPM_RC_HANDLE (format 1, any handle number, any TSS layer): nothing at the handle.
bool is_handle_error(TSS2_RC rc) {
  TSS2_RC base = rc & 0xffff;
  return (base & TPM2_RC_FMT1) != 0 && (base & 0x3f) == (TPM2_RC_HANDLE & 0x3f);
}

bool is_restricted_signing(const TPMT_PUBLIC& a) {
  TPMA_OBJECT want = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED;
  return (a.objectAttributes & want) == want && (a.objectAttributes & TPMA_OBJECT_DECRYPT) == 0;
}

class EsysTpm final : public Tpm {
 public:
  EsysTpm(TSS2_TCTI_CONTEXT* tcti, ESYS_CONTEXT* esys, TpmOptions options)
      : tcti_(tcti), esys_(esys), options_(std::move(options)) {}
  ~EsysTpm() override {
    if (ak_ != ESYS_TR_NONE) Esys_TR_Close(esys_, &ak_);
    Esys_Finalize(&esys_);
    Tss2_TctiLdr_Finalize(&tcti_);
  }

  Result<std::vector<HashAlgo>> banks(unsigned pcr) override {
    IMASHIM_TRY_VOID(check_pcr_index(pcr));
    TPMI_YES_NO more = TPM2_NO;
    EsysPtr<TPMS_CAPABILITY_DATA> cap;
    TSS2_RC rc = Esys_GetCapability(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS,
                                    0, 1, &more, cap.out());
    if (rc != TSS2_RC_SUCCESS) return tss2_fail("TPM2_GetCapability(PCRS)", rc);
    std::vector<HashAlgo> out;
    const TPML_PCR_SELECTION& sel = cap->data.assignedPCR;
    for (UINT32 i = 0; i < sel.count; ++i) {
      const TPMS_PCR_SELECTION& s = sel.pcrSelections[i];
      auto algo = hash_algo_from_tpm_alg(s.hash);
      if (algo && pcr / 8 < s.sizeofSelect && (s.pcrSelect[pcr / 8] & (1u << (pcr % 8))))
        out.push_back(*algo);
    }
    return out;
  }

  Result<Bytes> pcr_read(unsigned pcr, HashAlgo bank) override {
    const unsigned one[] = {pcr};
    IMASHIM_TRY(TPML_PCR_SELECTION sel, selection(one, bank));
    UINT32 counter = 0;
    EsysPtr<TPML_PCR_SELECTION> sel_out;
    EsysPtr<TPML_DIGEST> values;
    TSS2_RC rc = Esys_PCR_Read(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter,
                               sel_out.out(), values.out());
    if (rc != TSS2_RC_SUCCESS) return tss2_fail("TPM2_PCR_Read", rc);
    if (values->count != 1)
      return fail("TPM2_PCR_Read: PCR " + std::to_string(pcr) + " has no " +
                  std::string(formats::hash_algo_name(bank)) + " bank");
    const TPM2B_DIGEST& d = values->digests[0];
    return Bytes(d.buffer, d.buffer + d.size);
  }

  Result<void> pcr_extend(unsigned pcr, const BankDigests& digests) override {
    IMASHIM_TRY_VOID(check_pcr_index(pcr));
    TPML_DIGEST_VALUES values{};
    if (digests.empty() || digests.size() > TPM2_NUM_PCR_BANKS) return fail("PCR extend: no banks given");
    for (const auto& [algo, digest] : digests) {
      IMASHIM_TRY(TPMI_ALG_HASH hash, tpm_hash(algo));
      if (digest.size() != formats::digest_size(algo))
        return fail("PCR extend: a " + std::string(formats::hash_algo_name(algo)) + " digest must be " +
                    std::to_string(formats::digest_size(algo)) + " bytes, got " + std::to_string(digest.size()));
      TPMT_HA& ha = values.digests[values.count++];
      ha.hashAlg = hash;
      std::memcpy(&ha.digest, digest.data(), digest.size());
    }
    TSS2_RC rc = Esys_PCR_Extend(esys_, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, &values);
    if (rc != TSS2_RC_SUCCESS) return tss2_fail("TPM2_PCR_Extend(PCR " + std::to_string(pcr) + ")", rc);
    return {};
  }

  Result<void> pcr_reset(unsigned pcr) override {
    IMASHIM_TRY_VOID(check_pcr_index(pcr));
    TSS2_RC rc =
        Esys_PCR_Reset(esys_, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
    if (rc != TSS2_RC_SUCCESS) return tss2_fail("TPM2_PCR_Reset(PCR " + std::to_string(pcr) + ")", rc);
    return {};
  }

  Result<Bytes> ak_public() override {
    IMASHIM_TRY_VOID(load_or_create_ak());
    return ak_public_;
  }

  Result<Quote> quote(std::span<const unsigned> pcrs, HashAlgo bank, ByteView nonce) override {
    if (nonce.size() > sizeof(TPMU_HA))
      return fail("quote: the nonce is " + std::to_string(nonce.size()) + " bytes; at most " +
                  std::to_string(sizeof(TPMU_HA)) + " are allowed");
    IMASHIM_TRY(TPML_PCR_SELECTION sel, selection(pcrs, bank));
    IMASHIM_TRY_VOID(load_or_create_ak());
    TPM2B_DATA qualifying{};
    qualifying.size = static_cast<UINT16>(nonce.size());
    std::memcpy(qualifying.buffer, nonce.data(), nonce.size());
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_NULL;  // the key's own scheme
    EsysPtr<TPM2B_ATTEST> quoted;
    EsysPtr<TPMT_SIGNATURE> sig;
    TSS2_RC rc = Esys_Quote(esys_, ak_, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qualifying,
                            &scheme, &sel, quoted.out(), sig.out());
    if (rc != TSS2_RC_SUCCESS) return tss2_fail("TPM2_Quote", rc);
    Quote q;
    q.attest.assign(quoted->attestationData, quoted->attestationData + quoted->size);
    IMASHIM_TRY(q.signature, detail::marshal(Tss2_MU_TPMT_SIGNATURE_Marshal, *sig.p, "the quote signature"));
    return q;
  }

 private:
  Result<void> load_or_create_ak() {
    if (ak_ != ESYS_TR_NONE) return {};
    ESYS_TR tr = ESYS_TR_NONE;
    TSS2_RC rc = Esys_TR_FromTPMPublic(esys_, options_.ak_handle, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, &tr);
    if (rc == TSS2_RC_SUCCESS) return adopt_ak(tr);
    if (is_handle_error(rc)) return create_ak();
    return tss2_fail("load the AK from handle " + handle_text(), rc);
  }

  Result<void> adopt_ak(ESYS_TR tr) {
    EsysPtr<TPM2B_PUBLIC> pub;
    EsysPtr<TPM2B_NAME> name;
    EsysPtr<TPM2B_NAME> qname;
    TSS2_RC rc = Esys_ReadPublic(esys_, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, pub.out(),
                                 name.out(), qname.out());
    if (rc != TSS2_RC_SUCCESS) {
      Esys_TR_Close(esys_, &tr);
      return tss2_fail("read the AK at " + handle_text(), rc);
    }
    if (!is_restricted_signing(pub->publicArea)) {
      Esys_TR_Close(esys_, &tr);
      return fail("persistent handle " + handle_text() +
                  " holds a key that is not a restricted signing key; choose another ak_handle");
    }
    IMASHIM_TRY(ak_public_, detail::marshal_public(*pub.p));
    ak_ = tr;
    return {};
  }

  Result<void> create_ak() {
    TPM2B_SENSITIVE_CREATE sensitive{};
    TPM2B_PUBLIC in = ak_template(options_.ak_algo);
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION creation_pcr{};
    ESYS_TR transient = ESYS_TR_NONE;
    EsysPtr<TPM2B_PUBLIC> out_pub;
    EsysPtr<TPM2B_CREATION_DATA> creation_data;
    EsysPtr<TPM2B_DIGEST> creation_hash;
    EsysPtr<TPMT_TK_CREATION> ticket;
    TSS2_RC rc = Esys_CreatePrimary(esys_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &sensitive, &in, &outside, &creation_pcr, &transient,
                                    out_pub.out(), creation_data.out(), creation_hash.out(),
                                    ticket.out());
    if (rc != TSS2_RC_SUCCESS) return tss2_fail("create the AK (TPM2_CreatePrimary)", rc);
    ESYS_TR persistent = ESYS_TR_NONE;
    rc = Esys_EvictControl(esys_, ESYS_TR_RH_OWNER, transient, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, options_.ak_handle, &persistent);
    Esys_FlushContext(esys_, transient);
    if (rc != TSS2_RC_SUCCESS) return tss2_fail("persist the AK at " + handle_text(), rc);
    return adopt_ak(persistent);
  }

  std::string handle_text() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", options_.ak_handle);
    return buf;
  }

  TSS2_TCTI_CONTEXT* tcti_;
  ESYS_CONTEXT* esys_;
  TpmOptions options_;
  ESYS_TR ak_ = ESYS_TR_NONE;
  Bytes ak_public_;
};

}  // namespace

Result<std::unique_ptr<Tpm>> open_tpm(const TpmOptions& options) {
  // tpm2-tss logs its own errors to stderr; ours carry the same facts, and
  // runc's stderr belongs to the engine. TSS2_LOG set by the user wins.
  setenv("TSS2_LOG", "all+none", 0);
  std::string where = options.tcti.empty() ? std::string("the default TCTI") : "TCTI `" + options.tcti + "`";
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(options.tcti.empty() ? nullptr : options.tcti.c_str(), &tcti);
  if (rc != TSS2_RC_SUCCESS) return tss2_fail("TPM unavailable: open " + where, rc);
  ESYS_CONTEXT* esys = nullptr;
  rc = Esys_Initialize(&esys, tcti, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&tcti);
    return tss2_fail("TPM unavailable: initialize ESAPI on " + where, rc);
  }
  rc = Esys_Startup(esys, TPM2_SU_CLEAR);
  if (rc != TSS2_RC_SUCCESS && rc != TPM2_RC_INITIALIZE) {
    Esys_Finalize(&esys);
    Tss2_TctiLdr_Finalize(&tcti);
    return tss2_fail("TPM unavailable: TPM2_Startup on " + where, rc);
  }
  return std::unique_ptr<Tpm>(std::make_unique<EsysTpm>(tcti, esys, options));
}

}  // namespace imashim::tpm
