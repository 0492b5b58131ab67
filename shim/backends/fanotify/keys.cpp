// Verifying v2 signatures in security.ima against configured public keys, the
// way the kernel's asymmetric_verify() does: find the key by the 4-byte key
// id in the header, verify the signature over the file digest.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <unordered_map>

#include "imashim/backends/fanotify_engine.hpp"
#include "imashim/formats/ima_xattr.hpp"

namespace imashim::backends::fanotify {
namespace {

using PkeyPtr = std::shared_ptr<EVP_PKEY>;

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

// Last 4 bytes of the certificate's subjectKeyIdentifier, or of SHA-1 over the public key bits.
std::uint32_t keyid_of(X509* cert, EVP_PKEY* key) {
  if (cert) {
    const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(cert);
    if (skid && ASN1_STRING_length(skid) >= 4)
      return be32(ASN1_STRING_get0_data(skid) + ASN1_STRING_length(skid) - 4);
  }
  unsigned char* der = nullptr;
  int len = i2d_PublicKey(key, &der);
  if (len <= 0) return 0;
  unsigned char md[20];
  unsigned int mdlen = 0;
  EVP_Digest(der, static_cast<size_t>(len), md, &mdlen, EVP_sha1(), nullptr);
  OPENSSL_free(der);
  return be32(md + 16);
}

Result<std::pair<std::uint32_t, PkeyPtr>> load_key(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail_errno("key `" + path.string() + "`");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bio = std::unique_ptr<BIO, decltype(&BIO_free)>(BIO_new_mem_buf(data.data(), int(data.size())), BIO_free);
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (!cert) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
    cert = d2i_X509(nullptr, &p, long(data.size()));
  }
  EVP_PKEY* key = nullptr;
  if (cert) {
    key = X509_get_pubkey(cert);
  } else {
    BIO_reset(bio.get());
    key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
    if (!key) {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
      key = d2i_PUBKEY(nullptr, &p, long(data.size()));
    }
  }
  if (!key) {
    X509_free(cert);
    return fail("key `" + path.string() + "`: neither a certificate nor a public key (PEM or DER)");
  }
  std::uint32_t id = keyid_of(cert, key);
  X509_free(cert);
  return std::make_pair(id, PkeyPtr(key, EVP_PKEY_free));
}

class OpenSslKeyRing : public KeyRing {
 public:
  explicit OpenSslKeyRing(std::unordered_map<std::uint32_t, PkeyPtr> keys) : keys_(std::move(keys)) {}

  Result<bool> verify(ByteView signature, formats::HashAlgo algo, ByteView digest) const override {
    IMASHIM_TRY(auto x, formats::ImaXattr::decode(signature));
    if (!x.sig || x.sig->version != 2) return false;
    auto it = keys_.find(x.sig->keyid);
    if (it == keys_.end()) return false;
    const EVP_MD* md = formats::evp_md(algo);
    if (!md) return false;
    auto ctx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>(
        EVP_PKEY_CTX_new(it->second.get(), nullptr), EVP_PKEY_CTX_free);
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_signature_md(ctx.get(), md) <= 0)
      return false;
    return EVP_PKEY_verify(ctx.get(), x.sig->signature.data(), x.sig->signature.size(), digest.data(),
                           digest.size()) == 1;
  }

 private:
  std::unordered_map<std::uint32_t, PkeyPtr> keys_;
};

}  // namespace

Result<std::unique_ptr<KeyRing>> load_keys(const std::vector<std::filesystem::path>& paths) {
  std::unordered_map<std::uint32_t, PkeyPtr> keys;
  for (const auto& p : paths) {
    IMASHIM_TRY(auto k, load_key(p));
    keys[k.first] = k.second;
  }
  return std::unique_ptr<KeyRing>(new OpenSslKeyRing(std::move(keys)));
}

}  // namespace imashim::backends::fanotify
