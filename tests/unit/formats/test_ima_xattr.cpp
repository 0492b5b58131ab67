#include <catch2/catch.hpp>

#include "imashim/formats/ima_xattr.hpp"

using namespace imashim;
using namespace imashim::formats;

namespace {
Bytes hex(std::string_view h) { return *from_hex(h); }
const std::string kSha1Abc = "a9993e364706816aba3e25717850c26c9cd0d89d";
const std::string kSha256Abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
}  // namespace

TEST_CASE("sha1 digests are type 0x01, others 0x04 + algo id (kernel's ima_fix_xattr)", "[formats][xattr]") {
  CHECK(to_hex(*encode_ima_digest(HashAlgo::sha1, hex(kSha1Abc))) == "01" + kSha1Abc);
  CHECK(to_hex(*encode_ima_digest(HashAlgo::sha256, hex(kSha256Abc))) == "0404" + kSha256Abc);
  CHECK(to_hex(*encode_ima_digest_ng(HashAlgo::sha1, hex(kSha1Abc))) == "0402" + kSha1Abc);
  auto bad = encode_ima_digest(HashAlgo::sha512, hex(kSha256Abc));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() == "sha512 digest must be 64 bytes, got 32");
}

TEST_CASE("decode each digest type", "[formats][xattr]") {
  auto x1 = ImaXattr::decode(hex("01" + kSha1Abc));
  REQUIRE(x1.ok());
  CHECK(x1->type == ImaXattrType::ima_digest);
  CHECK(x1->algo == HashAlgo::sha1);
  CHECK(to_hex(x1->digest) == kSha1Abc);

  auto x4 = ImaXattr::decode(hex("0404" + kSha256Abc));
  REQUIRE(x4.ok());
  CHECK(x4->type == ImaXattrType::digest_ng);
  CHECK(x4->algo == HashAlgo::sha256);
  CHECK(x4->describe() == "sha256:" + kSha256Abc);
  CHECK(*x4->encode() == hex("0404" + kSha256Abc));

  auto x2 = ImaXattr::decode(hex("02" + kSha1Abc));
  REQUIRE(x2.ok());
  CHECK(x2->type == ImaXattrType::evm_hmac);
  CHECK(*x2->encode() == hex("02" + kSha1Abc));
}

TEST_CASE("signature v2 header: type, version, algo, keyid be32, size be16", "[formats][xattr]") {
  // 03 02 04 | 1a2b3c4d | 0003 | aabbcc
  Bytes v = hex("0302041a2b3c4d0003aabbcc");
  auto x = ImaXattr::decode(v);
  REQUIRE(x.ok());
  REQUIRE(x->sig);
  CHECK(x->sig->version == 2);
  CHECK(x->sig->hash_algo == HashAlgo::sha256);
  CHECK(x->sig->keyid == 0x1a2b3c4d);
  CHECK(to_hex(x->sig->signature) == "aabbcc");
  CHECK(x->describe() == "digsig v2 sha256 keyid 1a2b3c4d (3-byte signature)");
  CHECK(*x->encode() == v);

  SignatureV2 s{2, HashAlgo::sha512, 0xdeadbeef, hex("0102")};
  CHECK(to_hex(*encode_signature_v2(s)) == "030206deadbeef00020102");
  CHECK(to_hex(*encode_signature_v2(s, ImaXattrType::evm_portable_digsig)) == "050206deadbeef00020102");
  s.version = 3;
  auto verity = ImaXattr::decode(*encode_signature_v2(s, ImaXattrType::verity_digsig));
  REQUIRE(verity.ok());
  CHECK(verity->type == ImaXattrType::verity_digsig);
  CHECK(verity->sig->version == 3);
  CHECK_FALSE(encode_signature_v2(s, ImaXattrType::digest_ng).ok());
}

TEST_CASE("version 1 signatures are kept opaque", "[formats][xattr]") {
  auto x = ImaXattr::decode(hex("0301aabbccdd"));
  REQUIRE(x.ok());
  CHECK(x->sig_version == 1);
  CHECK(x->is_signature());
  CHECK(to_hex(*x->encode()) == "0301aabbccdd");
}

TEST_CASE("malformed values name the byte and the reason", "[formats][xattr]") {
  struct Case {
    std::string hex;
    std::string message;
  };
  const Case cases[] = {
      {"", "security.ima value: byte 0: value is empty"},
      {"07", "security.ima value: byte 0: unknown type 0x07"},
      {"01aabb", "security.ima value: byte 3: ima-digest value must be 21 bytes (type + 20), got 3"},
      {"04", "security.ima value: byte 1: digest-ng value ends before its hash algorithm byte"},
      {"0414aa", "security.ima value: byte 1: unknown hash algorithm id 20"},
      {"0404" + kSha1Abc, "security.ima value: byte 22: sha256 digest must be 32 bytes, value has 20"},
      {"0404" + kSha256Abc + "00", "security.ima value: byte 34: sha256 digest must be 32 bytes, value has 33"},
      {"0309", "security.ima value: byte 1: unsupported signature version 9 (expected 2 or 3)"},
      {"03020400000001", "security.ima value: byte 7: signature header needs 9 bytes, value has 7"},
      {"0302ff000000010001aa", "security.ima value: byte 2: unknown hash algorithm id 255"},
      {"030204000000010005aabb", "security.ima value: byte 7: signature size field says 5 bytes, 2 follow the header"},
      {"030204000000010000", "security.ima value: byte 7: signature size is 0"},
  };
  for (const auto& c : cases) {
    INFO(c.hex);
    auto x = ImaXattr::decode(hex(c.hex));
    REQUIRE_FALSE(x.ok());
    CHECK(x.error().message() == c.message);
  }
}
