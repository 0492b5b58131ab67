#include "openssl_keys.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <string>

#include "imashim/tpm/tpm.hpp"

namespace imashim::tpm::detail {
namespace {

struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;
struct BldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};

struct Curve {
  TPMI_ECC_CURVE tpm;
  const char* openssl;
  std::size_t size;
};
constexpr Curve kCurves[] = {{TPM2_ECC_NIST_P256, "prime256v1", 32}, {TPM2_ECC_NIST_P384, "secp384r1", 48}};

const Curve* curve_by_tpm(TPMI_ECC_CURVE id) {
  for (const auto& c : kCurves)
    if (c.tpm == id) return &c;
  return nullptr;
}
const Curve* curve_by_name(const std::string& name) {
  for (const auto& c : kCurves)
    if (name == c.openssl) return &c;
  return nullptr;
}

Result<Pkey> pkey_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    return fail(std::string("the AK public area is not a valid ") + type + " key");
  return Pkey(key);
}

Result<Pkey> ecc_pkey(const TPMT_PUBLIC& pub) {
  const Curve* curve = curve_by_tpm(pub.parameters.eccDetail.curveID);
  if (!curve) return fail("the AK uses an unsupported ECC curve (id " + std::to_string(pub.parameters.eccDetail.curveID) + ")");
  const TPMS_ECC_POINT& pt = pub.unique.ecc;
  if (pt.x.size != curve->size || pt.y.size != curve->size) return fail("the AK's ECC point has the wrong size");
  Bytes point{0x04};
  point.insert(point.end(), pt.x.buffer, pt.x.buffer + pt.x.size);
  point.insert(point.end(), pt.y.buffer, pt.y.buffer + pt.y.size);
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->openssl, 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  return pkey_from_params("EC", bld.get());
}

Result<Pkey> rsa_pkey(const TPMT_PUBLIC& pub) {
  const TPM2B_PUBLIC_KEY_RSA& n = pub.unique.rsa;
  UINT32 e = pub.parameters.rsaDetail.exponent ? pub.parameters.rsaDetail.exponent : 65537;
  Bn bn_n(BN_bin2bn(n.buffer, n.size, nullptr));
  Bn bn_e(BN_new());
  BN_set_word(bn_e.get(), e);
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get());
  return pkey_from_params("RSA", bld.get());
}

void restricted_signing(TPMT_PUBLIC& a) {
  a.nameAlg = TPM2_ALG_SHA256;
  a.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_FIXEDTPM |
                       TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_USERWITHAUTH;
}

Result<void> copy_into(std::uint8_t* dst, UINT16& size, std::size_t cap, ByteView src) {
  if (src.size() > cap) return fail("value too large for a TPM buffer");
  std::memcpy(dst, src.data(), src.size());
  size = static_cast<UINT16>(src.size());
  return {};
}

Result<Bytes> get_octets(EVP_PKEY* key, const char* param) {
  std::size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, param, nullptr, 0, &len) <= 0) return fail("read key parameter");
  Bytes out(len);
  if (EVP_PKEY_get_octet_string_param(key, param, out.data(), out.size(), &len) <= 0)
    return fail("read key parameter");
  out.resize(len);
  return out;
}

Result<TPM2B_PUBLIC> ecc_public(EVP_PKEY* key) {
  char group[64] = {};
  std::size_t glen = 0;
  EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen);
  const Curve* curve = curve_by_name(group);
  if (!curve) return fail(std::string("unsupported ECC curve ") + group);
  IMASHIM_TRY(Bytes point, get_octets(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY));
  if (point.size() != 1 + 2 * curve->size || point[0] != 0x04) return fail("unexpected EC point encoding");
  TPM2B_PUBLIC pub{};
  TPMT_PUBLIC& a = pub.publicArea;
  restricted_signing(a);
  a.type = TPM2_ALG_ECC;
  a.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  a.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  a.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  a.parameters.eccDetail.curveID = curve->tpm;
  a.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  ByteView p(point);
  IMASHIM_TRY_VOID(copy_into(a.unique.ecc.x.buffer, a.unique.ecc.x.size, sizeof a.unique.ecc.x.buffer,
                             p.subspan(1, curve->size)));
  IMASHIM_TRY_VOID(copy_into(a.unique.ecc.y.buffer, a.unique.ecc.y.size, sizeof a.unique.ecc.y.buffer,
                             p.subspan(1 + curve->size, curve->size)));
  return pub;
}

Result<TPM2B_PUBLIC> rsa_public(EVP_PKEY* key) {
  BIGNUM* n = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) <= 0) return fail("read the RSA modulus");
  Bn owned(n);
  Bytes mod(BN_num_bytes(n));
  BN_bn2bin(n, mod.data());
  TPM2B_PUBLIC pub{};
  TPMT_PUBLIC& a = pub.publicArea;
  restricted_signing(a);
  a.type = TPM2_ALG_RSA;
  a.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  a.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
  a.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
  a.parameters.rsaDetail.keyBits = static_cast<UINT16>(mod.size() * 8);
  IMASHIM_TRY_VOID(copy_into(a.unique.rsa.buffer, a.unique.rsa.size, sizeof a.unique.rsa.buffer, mod));
  return pub;
}

Result<Bytes> digest_sign(EVP_PKEY* key, ByteView data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) <= 0 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) <= 0)
    return fail("sign with the software AK");
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) <= 0)
    return fail("sign with the software AK");
  sig.resize(len);
  return sig;
}

Result<Bytes> marshal_signature(const TPMT_SIGNATURE& sig) {
  return marshal(Tss2_MU_TPMT_SIGNATURE_Marshal, sig, "a signature");
}

Result<Bytes> ecdsa_to_tpm(ByteView der) {
  const unsigned char* p = der.data();
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (!es) return fail("decode an ECDSA signature");
  TPMT_SIGNATURE sig{};
  sig.sigAlg = TPM2_ALG_ECDSA;
  sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
  const BIGNUM* r = ECDSA_SIG_get0_r(es);
  const BIGNUM* s = ECDSA_SIG_get0_s(es);
  sig.signature.ecdsa.signatureR.size = static_cast<UINT16>(BN_num_bytes(r));
  BN_bn2bin(r, sig.signature.ecdsa.signatureR.buffer);
  sig.signature.ecdsa.signatureS.size = static_cast<UINT16>(BN_num_bytes(s));
  BN_bn2bin(s, sig.signature.ecdsa.signatureS.buffer);
  ECDSA_SIG_free(es);
  return marshal_signature(sig);
}

}  // namespace

Result<TPM2B_PUBLIC> unmarshal_public(ByteView data) {
  TPM2B_PUBLIC pub{};
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(data.data(), data.size(), &off, &pub);
  if (rc != TSS2_RC_SUCCESS) return fail(tss2_error("the AK public area (TPM2B_PUBLIC) is malformed", rc));
  if (off != data.size()) return fail("the AK public area has " + std::to_string(data.size() - off) + " trailing bytes");
  return pub;
}

Result<Bytes> marshal_public(const TPM2B_PUBLIC& pub) {
  return marshal(Tss2_MU_TPM2B_PUBLIC_Marshal, pub, "a public area");
}

Result<Pkey> pkey_from_public(const TPMT_PUBLIC& pub) {
  if (pub.type == TPM2_ALG_ECC) return ecc_pkey(pub);
  if (pub.type == TPM2_ALG_RSA) return rsa_pkey(pub);
  return fail("the AK has an unsupported key type (TPM algorithm " + std::to_string(pub.type) + ")");
}

Result<TPM2B_PUBLIC> public_from_pkey(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) return ecc_public(key);
  if (EVP_PKEY_is_a(key, "RSA")) return rsa_public(key);
  return fail("unsupported key type for an AK");
}

Result<Bytes> sign_as_tpm(EVP_PKEY* key, ByteView data) {
  IMASHIM_TRY(Bytes raw, digest_sign(key, data));
  if (EVP_PKEY_is_a(key, "EC")) return ecdsa_to_tpm(raw);
  TPMT_SIGNATURE sig{};
  sig.sigAlg = TPM2_ALG_RSASSA;
  sig.signature.rsassa.hash = TPM2_ALG_SHA256;
  IMASHIM_TRY_VOID(copy_into(sig.signature.rsassa.sig.buffer, sig.signature.rsassa.sig.size,
                             sizeof sig.signature.rsassa.sig.buffer, raw));
  return marshal_signature(sig);
}

}  // namespace imashim::tpm::detail
