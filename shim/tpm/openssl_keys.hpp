// Internal: TPM public areas and signatures <-> OpenSSL keys and signatures.
#pragma once

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include <string>

#include <memory>

#include "imashim/util/bytes.hpp"
#include "imashim/tpm/tpm.hpp"
#include "imashim/util/result.hpp"

namespace imashim::tpm::detail {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Marshals `value` with one of tss2-mu's Tss2_MU_<TYPE>_Marshal functions,
// sized to what it wrote; `what` names the value in the error.
template <class T>
using MarshalFn = TSS2_RC (*)(const T*, uint8_t[], size_t, size_t*);
template <class T>
Result<Bytes> marshal(MarshalFn<T> fn, const T& value, const char* what) {
  Bytes out(sizeof(T));
  size_t off = 0;
  if (TSS2_RC rc = fn(&value, out.data(), out.size(), &off); rc != TSS2_RC_SUCCESS)
    return fail(tss2_error(std::string("marshal ") + what, rc));
  out.resize(off);
  return out;
}

Result<TPM2B_PUBLIC> unmarshal_public(ByteView data);
Result<Bytes> marshal_public(const TPM2B_PUBLIC& pub);
// An OpenSSL public key from a TPM public area (ECC P-256/384 or RSA).
Result<Pkey> pkey_from_public(const TPMT_PUBLIC& pub);
// The TPM public area of an OpenSSL key, with restricted-signing attributes.
Result<TPM2B_PUBLIC> public_from_pkey(EVP_PKEY* key);
// Signs `data` (SHA-256) with `key` and wraps the result as TPMT_SIGNATURE.
Result<Bytes> sign_as_tpm(EVP_PKEY* key, ByteView data);

}  // namespace imashim::tpm::detail
