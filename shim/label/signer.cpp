// v2 signatures for security.ima (signer.hpp).
#include "imashim/label/signer.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>

#include "imashim/formats/ima_xattr.hpp"

namespace imashim::label {

namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
struct FileClose {
  void operator()(FILE* f) const { std::fclose(f); }
};

Result<X509Ptr> load_cert(const std::string& path) {
  std::unique_ptr<FILE, FileClose> f(std::fopen(path.c_str(), "rb"));
  if (!f) return fail_errno("open certificate `" + path + "`");
  X509* x = PEM_read_X509(f.get(), nullptr, nullptr, nullptr);
  if (!x) {
    std::rewind(f.get());
    x = d2i_X509_fp(f.get(), nullptr);
  }
  if (!x) return fail("certificate `" + path + "`: neither a PEM nor a DER X.509 certificate");
  return X509Ptr(x);
}

std::uint32_t last4(const unsigned char* p, std::size_t len) {
  std::uint32_t v = 0;
  for (std::size_t i = len - 4; i < len; i++) v = (v << 8) | p[i];
  return v;
}

Result<std::uint32_t> keyid_of(X509* cert, const std::string& path) {
  const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(cert);
  if (skid && ASN1_STRING_length(skid) >= 4)
    return last4(ASN1_STRING_get0_data(skid), static_cast<std::size_t>(ASN1_STRING_length(skid)));
  // No subjectKeyIdentifier: SHA-1 of the subjectPublicKey bit string (RFC 5280 4.2.1.2 (1)).
  const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(cert);
  if (!bits) return fail("certificate `" + path + "`: no public key");
  unsigned char sha1[SHA_DIGEST_LENGTH];
  SHA1(ASN1_STRING_get0_data(bits), static_cast<std::size_t>(ASN1_STRING_length(bits)), sha1);
  return last4(sha1, sizeof sha1);
}

}  // namespace

Result<std::uint32_t> keyid_from_cert(const std::string& cert_path) {
  IMASHIM_TRY(X509Ptr cert, load_cert(cert_path));
  return keyid_of(cert.get(), cert_path);
}

Result<Signer> Signer::load(const std::string& key_path, const std::string& cert_path) {
  IMASHIM_TRY(X509Ptr cert, load_cert(cert_path));
  IMASHIM_TRY(std::uint32_t keyid, keyid_of(cert.get(), cert_path));
  std::unique_ptr<FILE, FileClose> f(std::fopen(key_path.c_str(), "rb"));
  if (!f) return fail_errno("open key `" + key_path + "`");
  EVP_PKEY* raw = PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr);
  if (!raw) return fail("key `" + key_path + "`: not a PEM private key (or it needs a passphrase)");
  std::shared_ptr<EVP_PKEY> key(raw, EVP_PKEY_free);
  int type = EVP_PKEY_get_base_id(raw);
  if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC)
    return fail("key `" + key_path + "`: only RSA and EC keys make IMA signatures");
  if (X509_check_private_key(cert.get(), raw) != 1)
    return fail("key `" + key_path + "` does not belong to certificate `" + cert_path + "`");
  return Signer(std::move(key), keyid);
}

Result<Bytes> Signer::sign(formats::HashAlgo algo, ByteView digest) const {
  const EVP_MD* md = formats::evp_md(algo);
  if (!md) return fail(std::string("no OpenSSL digest for ") + std::string(formats::hash_algo_name(algo)));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_signature_md(ctx.get(), md) <= 0)
    return fail("sign: cannot set up the key for signing");
  if (EVP_PKEY_get_base_id(key_.get()) == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) <= 0)
    return fail("sign: cannot select PKCS#1 v1.5 padding");
  std::size_t len = 0;
  if (EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) <= 0) return fail("sign: size query failed");
  Bytes sig(len);
  if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()) <= 0) return fail("sign: signing failed");
  sig.resize(len);
  return sig;
}

Result<Bytes> Signer::sign_xattr(formats::HashAlgo algo, ByteView digest) const {
  formats::SignatureV2 s;
  s.version = 2;
  s.hash_algo = algo;
  s.keyid = keyid_;
  IMASHIM_TRY(s.signature, sign(algo, digest));
  return formats::encode_signature_v2(s);
}

bool Signer::verify(formats::HashAlgo algo, ByteView digest, ByteView signature) const {
  const EVP_MD* md = formats::evp_md(algo);
  if (!md) return false;
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_signature_md(ctx.get(), md) <= 0) return false;
  if (EVP_PKEY_get_base_id(key_.get()) == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) <= 0)
    return false;
  return EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(), digest.size()) == 1;
}

}  // namespace imashim::label
