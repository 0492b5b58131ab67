#include "imashim/formats/ima_xattr.hpp"

#include <fmt/format.h>

#include <array>

namespace imashim::formats {
namespace {

constexpr std::size_t kSha1Size = 20;

struct TypeInfo {
  ImaXattrType type;
  std::string_view name;
};
constexpr std::array<TypeInfo, 6> kTypes{{
    {ImaXattrType::ima_digest, "ima-digest"},
    {ImaXattrType::evm_hmac, "evm-hmac"},
    {ImaXattrType::digsig, "digsig"},
    {ImaXattrType::digest_ng, "digest-ng"},
    {ImaXattrType::evm_portable_digsig, "evm-portable-digsig"},
    {ImaXattrType::verity_digsig, "verity-digsig"},
}};

Unexpected bad(std::size_t offset, std::string_view why) {
  return fail(fmt::format("security.ima value: byte {}: {}", offset, why));
}

Result<HashAlgo> algo_at(ByteView v, std::size_t off) {
  auto algo = hash_algo_from_id(v[off]);
  if (!algo) return bad(off, fmt::format("unknown hash algorithm id {}", v[off]));
  return *algo;
}

Result<ImaXattr> decode_sha1_sized(ByteView v, ImaXattrType type) {
  if (v.size() != 1 + kSha1Size)
    return bad(v.size() < 1 + kSha1Size ? v.size() : 1 + kSha1Size,
               fmt::format("{} value must be 21 bytes (type + 20), got {}", ima_xattr_type_name(type), v.size()));
  ImaXattr x;
  x.type = type;
  if (type == ImaXattrType::ima_digest) x.algo = HashAlgo::sha1;
  x.digest.assign(v.begin() + 1, v.end());
  return x;
}

Result<ImaXattr> decode_digest_ng(ByteView v) {
  if (v.size() < 2) return bad(v.size(), "digest-ng value ends before its hash algorithm byte");
  IMASHIM_TRY(HashAlgo algo, algo_at(v, 1));
  std::size_t want = 2 + digest_size(algo);
  if (v.size() != want)
    return bad(v.size() < want ? v.size() : want,
               fmt::format("{} digest must be {} bytes, value has {}", hash_algo_name(algo), digest_size(algo),
                           v.size() - 2));
  ImaXattr x;
  x.type = ImaXattrType::digest_ng;
  x.algo = algo;
  x.digest.assign(v.begin() + 2, v.end());
  return x;
}

Result<ImaXattr> decode_signature(ByteView v, ImaXattrType type) {
  ImaXattr x;
  x.type = type;
  if (v.size() < 2) return bad(v.size(), "signature ends before its version byte");
  x.sig_version = v[1];
  if (x.sig_version == 1 && type == ImaXattrType::digsig) {
    x.v1_payload.assign(v.begin() + 2, v.end());
    return x;
  }
  if (x.sig_version != 2 && x.sig_version != 3)
    return bad(1, fmt::format("unsupported signature version {} (expected 2 or 3)", x.sig_version));
  if (v.size() < kSignatureV2HeaderSize)
    return bad(v.size(), fmt::format("signature header needs {} bytes, value has {}", kSignatureV2HeaderSize,
                                     v.size()));
  IMASHIM_TRY(HashAlgo algo, algo_at(v, 2));
  SignatureV2 s;
  s.version = x.sig_version;
  s.hash_algo = algo;
  s.keyid = get_be32(v.data() + 3);
  std::size_t sig_size = get_be16(v.data() + 7);
  std::size_t have = v.size() - kSignatureV2HeaderSize;
  if (sig_size == 0) return bad(7, "signature size is 0");
  if (sig_size != have)
    return bad(7, fmt::format("signature size field says {} bytes, {} follow the header", sig_size, have));
  s.signature.assign(v.begin() + kSignatureV2HeaderSize, v.end());
  x.algo = algo;
  x.sig = std::move(s);
  return x;
}

}  // namespace

std::string_view ima_xattr_type_name(ImaXattrType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.name;
  return "unknown";
}

Result<ImaXattr> ImaXattr::decode(ByteView v) {
  if (v.empty()) return bad(0, "value is empty");
  switch (static_cast<ImaXattrType>(v[0])) {
    case ImaXattrType::ima_digest:
      return decode_sha1_sized(v, ImaXattrType::ima_digest);
    case ImaXattrType::evm_hmac:
      return decode_sha1_sized(v, ImaXattrType::evm_hmac);
    case ImaXattrType::digest_ng:
      return decode_digest_ng(v);
    case ImaXattrType::digsig:
    case ImaXattrType::evm_portable_digsig:
    case ImaXattrType::verity_digsig:
      return decode_signature(v, static_cast<ImaXattrType>(v[0]));
  }
  return bad(0, fmt::format("unknown type 0x{:02x}", v[0]));
}

Result<Bytes> ImaXattr::encode() const {
  switch (type) {
    case ImaXattrType::ima_digest:
      return encode_ima_digest(HashAlgo::sha1, digest);
    case ImaXattrType::evm_hmac: {
      if (digest.size() != kSha1Size) return fail("evm-hmac value needs a 20-byte HMAC");
      Bytes out{static_cast<std::uint8_t>(type)};
      out.insert(out.end(), digest.begin(), digest.end());
      return out;
    }
    case ImaXattrType::digest_ng:
      if (!algo) return fail("digest-ng value needs a hash algorithm");
      return encode_ima_digest_ng(*algo, digest);
    case ImaXattrType::digsig:
    case ImaXattrType::evm_portable_digsig:
    case ImaXattrType::verity_digsig:
      if (sig_version == 1 && type == ImaXattrType::digsig) {
        Bytes out{static_cast<std::uint8_t>(type), 1};
        out.insert(out.end(), v1_payload.begin(), v1_payload.end());
        return out;
      }
      if (!sig) return fail("signature value needs a signature");
      return encode_signature_v2(*sig, type);
  }
  return fail("unknown security.ima type");
}

std::string ImaXattr::describe() const {
  if (sig)
    return fmt::format("{} v{} {} keyid {:08x} ({}-byte signature)", ima_xattr_type_name(type), sig->version,
                       hash_algo_name(sig->hash_algo), sig->keyid, sig->signature.size());
  if (sig_version == 1) return fmt::format("digsig v1 ({}-byte payload)", v1_payload.size());
  if (type == ImaXattrType::evm_hmac) return "evm-hmac:" + to_hex(digest);
  return fmt::format("{}:{}", algo ? hash_algo_name(*algo) : "?", to_hex(digest));
}

Result<Bytes> encode_ima_digest(HashAlgo algo, ByteView digest) {
  if (algo != HashAlgo::sha1) return encode_ima_digest_ng(algo, digest);
  if (digest.size() != kSha1Size)
    return fail(fmt::format("sha1 digest must be 20 bytes, got {}", digest.size()));
  Bytes out{static_cast<std::uint8_t>(ImaXattrType::ima_digest)};
  out.insert(out.end(), digest.begin(), digest.end());
  return out;
}

Result<Bytes> encode_ima_digest_ng(HashAlgo algo, ByteView digest) {
  if (digest.size() != digest_size(algo))
    return fail(fmt::format("{} digest must be {} bytes, got {}", hash_algo_name(algo), digest_size(algo),
                            digest.size()));
  Bytes out{static_cast<std::uint8_t>(ImaXattrType::digest_ng), static_cast<std::uint8_t>(algo)};
  out.insert(out.end(), digest.begin(), digest.end());
  return out;
}

Result<Bytes> encode_signature_v2(const SignatureV2& sig, ImaXattrType type) {
  if (type != ImaXattrType::digsig && type != ImaXattrType::evm_portable_digsig &&
      type != ImaXattrType::verity_digsig)
    return fail(fmt::format("{} is not a signature type", ima_xattr_type_name(type)));
  if (sig.version != 2 && sig.version != 3)
    return fail(fmt::format("signature version {} cannot be encoded (2 or 3)", sig.version));
  if (sig.signature.empty() || sig.signature.size() > 0xffff)
    return fail(fmt::format("signature of {} bytes does not fit the 16-bit size field", sig.signature.size()));
  Bytes out{static_cast<std::uint8_t>(type), sig.version, static_cast<std::uint8_t>(sig.hash_algo)};
  put_be32(out, sig.keyid);
  put_be16(out, static_cast<std::uint16_t>(sig.signature.size()));
  out.insert(out.end(), sig.signature.begin(), sig.signature.end());
  return out;
}

}  // namespace imashim::formats
