// Signing file digests for `security.ima` v2 signatures (type 0x03), as evmctl
// `ima_sign` does: the file digest is signed with PKCS#1 v1.5 (RSA) or ECDSA (EC),
// and the header carries the last 4 bytes of the certificate's subjectKeyIdentifier
// as the key id, which is how the kernel finds the key on the .ima keyring.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "imashim/formats/hash.hpp"
#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

struct evp_pkey_st;

namespace imashim::label {

// Key id of a certificate (PEM or DER): the last 4 bytes of its subjectKeyIdentifier;
// without that extension, the last 4 bytes of SHA-1 over the subjectPublicKey bits
// (what evmctl computes, and what the usual SKID is).
Result<std::uint32_t> keyid_from_cert(const std::string& cert_path);

class Signer {
 public:
  // `key_path`: a PEM private key (RSA or EC); `cert_path`: its certificate (PEM or DER).
  // Fails when the key does not belong to the certificate.
  static Result<Signer> load(const std::string& key_path, const std::string& cert_path);

  std::uint32_t keyid() const { return keyid_; }
  // The signature bytes over `digest` (no header). Thread-safe.
  Result<Bytes> sign(formats::HashAlgo algo, ByteView digest) const;
  // The complete xattr value: 0x03 | 2 | algo | keyid | size | signature.
  Result<Bytes> sign_xattr(formats::HashAlgo algo, ByteView digest) const;
  // Whether `signature` is a valid signature of `digest` by this key. Thread-safe.
  bool verify(formats::HashAlgo algo, ByteView digest, ByteView signature) const;

 private:
  Signer(std::shared_ptr<evp_pkey_st> key, std::uint32_t keyid) : key_(std::move(key)), keyid_(keyid) {}
  std::shared_ptr<evp_pkey_st> key_;
  std::uint32_t keyid_ = 0;
};

}  // namespace imashim::label
