// The `security.ima` (and `security.evm`) extended attribute values, as the
// kernel reads them (security/integrity/integrity.h: `enum evm_ima_xattr_type`,
// `struct signature_v2_hdr`).
//
// Layouts (multi-byte integers big-endian):
//   0x01 IMA_XATTR_DIGEST      type | sha1 digest (20 bytes)
//   0x02 EVM_XATTR_HMAC        type | HMAC-SHA1 (20 bytes)
//   0x03 EVM_IMA_XATTR_DIGSIG  type | version | hash_algo | keyid (4) | sig_size (2) | sig
//   0x04 IMA_XATTR_DIGEST_NG   type | hash_algo | digest
//   0x05 EVM_XATTR_PORTABLE_DIGSIG   same header as 0x03
//   0x06 IMA_VERITY_DIGSIG     same header as 0x03 (version 3: signs an ima_file_id)
// Version 1 signatures (0x03 with version byte 1, the old RSA scheme) are kept
// as an opaque payload.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "imashim/formats/hash.hpp"
#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::formats {

enum class ImaXattrType : std::uint8_t {
  ima_digest = 0x01,
  evm_hmac = 0x02,
  digsig = 0x03,
  digest_ng = 0x04,
  evm_portable_digsig = 0x05,
  verity_digsig = 0x06,
};

// "ima-digest", "evm-hmac", "digsig", "digest-ng", "evm-portable-digsig", "verity-digsig".
std::string_view ima_xattr_type_name(ImaXattrType type);

// The v2/v3 signature header (9 bytes) and the signature that follows it.
struct SignatureV2 {
  std::uint8_t version = 2;  // 2 (file digest signed) or 3 (fs-verity ima_file_id signed)
  HashAlgo hash_algo = HashAlgo::sha256;
  std::uint32_t keyid = 0;   // last 4 bytes of the key's subjectKeyIdentifier
  Bytes signature;           // sig_size bytes
};
inline constexpr std::size_t kSignatureV2HeaderSize = 9;  // type .. sig_size

// One decoded xattr value.
struct ImaXattr {
  ImaXattrType type = ImaXattrType::digest_ng;
  std::optional<HashAlgo> algo;      // ima_digest (sha1), digest_ng; signatures: the signed hash
  Bytes digest;                      // ima_digest, digest_ng; evm_hmac: the HMAC
  std::optional<SignatureV2> sig;    // digsig (v2/v3), evm_portable_digsig, verity_digsig
  std::uint8_t sig_version = 0;      // the version byte of a signature type (1, 2 or 3)
  Bytes v1_payload;                  // digsig version 1: everything after the version byte

  // Strict decoding: every length checked; the error names the byte offset and why.
  static Result<ImaXattr> decode(ByteView value);
  // Encodes back to the exact bytes decode() accepts (0x01..0x06).
  Result<Bytes> encode() const;

  bool is_signature() const { return sig.has_value() || sig_version == 1; }
  // "sha256:<hex>" for digests, "digsig v2 sha256 keyid 1a2b3c4d (256-byte signature)" etc.
  std::string describe() const;
};

// The value the kernel and `evmctl ima_hash` write for a file digest: 0x01 + digest
// for sha1, 0x04 + algo + digest for every other algorithm.
Result<Bytes> encode_ima_digest(HashAlgo algo, ByteView digest);
// A 0x04 value even for sha1 (the kernel accepts both for sha1).
Result<Bytes> encode_ima_digest_ng(HashAlgo algo, ByteView digest);
// A signature value: `type` is digsig, evm_portable_digsig or verity_digsig.
Result<Bytes> encode_signature_v2(const SignatureV2& sig, ImaXattrType type = ImaXattrType::digsig);

}  // namespace imashim::formats
