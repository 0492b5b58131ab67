#include <catch2/catch.hpp>

#include <tss2/tss2_tpm2_types.h>

#include "imashim/tpm/quote.hpp"
#include "imashim/tpm/tpm.hpp"

using namespace imashim;
using namespace imashim::tpm;

namespace {

Bytes sha256_of(ByteView data) { return *formats::hash_bytes(HashAlgo::sha256, data); }

Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

const Bytes kNonce = *from_hex("00112233445566778899aabbccddeeff");

}  // namespace

TEST_CASE("PCR extend is H(old || digest) per bank", "[tpm]") {
  auto tpm = make_software_tpm();
  Bytes d = sha256_of(as_bytes("container"));
  Bytes d1 = *formats::hash_bytes(HashAlgo::sha1, as_bytes("container"));
  REQUIRE(tpm->pcr_extend(23, {{HashAlgo::sha256, d}, {HashAlgo::sha1, d1}}));
  CHECK(*tpm->pcr_read(23, HashAlgo::sha256) == sha256_of(concat(Bytes(32, 0), d)));
  CHECK(*tpm->pcr_read(23, HashAlgo::sha1) == *formats::hash_bytes(HashAlgo::sha1, concat(Bytes(20, 0), d1)));
  REQUIRE_FALSE(tpm->pcr_extend(23, {{HashAlgo::sha256, Bytes(20, 1)}}));
  REQUIRE(tpm->pcr_reset(23));
  CHECK(*tpm->pcr_read(23, HashAlgo::sha256) == Bytes(32, 0));
  CHECK_FALSE(tpm->pcr_reset(10));
}

TEST_CASE("a quote carries the nonce and the PCR composite, and its signature verifies", "[tpm]") {
  for (AkAlgo algo : {AkAlgo::ecc_p256, AkAlgo::rsa2048}) {
    INFO(ak_algo_name(algo));
    auto tpm = make_software_tpm(algo);
    REQUIRE(tpm->pcr_extend(23, {{HashAlgo::sha256, sha256_of(as_bytes("x"))}}));
    const unsigned pcrs[] = {23};
    auto q = tpm->quote(pcrs, HashAlgo::sha256, kNonce);
    REQUIRE(q);
    auto ak = tpm->ak_public();
    REQUIRE(ak);
    REQUIRE(verify_quote_signature(*ak, q->attest, q->signature));
    auto info = parse_quote(q->attest);
    REQUIRE(info);
    CHECK(info->nonce == kNonce);
    CHECK(info->bank == HashAlgo::sha256);
    CHECK(info->pcrs == std::vector<unsigned>{23});
    CHECK(info->pcr_digest == *pcr_composite(HashAlgo::sha256, {*tpm->pcr_read(23, HashAlgo::sha256)}));
  }
}

TEST_CASE("a changed quote, signature or key fails verification", "[tpm]") {
  auto tpm = make_software_tpm();
  const unsigned pcrs[] = {23};
  auto q = *tpm->quote(pcrs, HashAlgo::sha256, kNonce);
  Bytes ak = *tpm->ak_public();

  Bytes attest = q.attest;
  attest[attest.size() - 1] ^= 1;
  CHECK_FALSE(verify_quote_signature(ak, attest, q.signature));

  Bytes sig = q.signature;
  sig[sig.size() - 1] ^= 1;
  CHECK_FALSE(verify_quote_signature(ak, q.attest, sig));

  Bytes other = *make_software_tpm()->ak_public();
  auto r = verify_quote_signature(other, q.attest, q.signature);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message(), Catch::Contains("does not verify"));

  Bytes rsa = *make_software_tpm(AkAlgo::rsa2048)->ak_public();
  CHECK_FALSE(verify_quote_signature(rsa, q.attest, q.signature));
}

TEST_CASE("malformed quotes and keys are errors that say what is wrong", "[tpm]") {
  Bytes junk = *from_hex("ff54434780180022");
  auto p = parse_quote(junk);
  REQUIRE_FALSE(p);
  CHECK_THAT(p.error().message(), Catch::Contains("TPMS_ATTEST"));

  auto tpm = make_software_tpm();
  const unsigned pcrs[] = {23};
  auto q = *tpm->quote(pcrs, HashAlgo::sha256, kNonce);
  Bytes bad_magic = q.attest;
  bad_magic[0] ^= 0xff;
  auto m = parse_quote(bad_magic);
  REQUIRE_FALSE(m);
  CHECK_THAT(m.error().message(), Catch::Contains("magic"));

  Bytes trailing = q.attest;
  trailing.push_back(0);
  CHECK_FALSE(parse_quote(trailing));
  CHECK_FALSE(verify_quote_signature(junk, q.attest, q.signature));
  CHECK_FALSE(tpm->quote(pcrs, HashAlgo::sha256, Bytes(65, 1)));
}

TEST_CASE("the AK converts to PEM and is recognised as the same key", "[tpm]") {
  auto tpm = make_software_tpm();
  Bytes ak = *tpm->ak_public();
  auto pem = ak_public_pem(ak);
  REQUIRE(pem);
  CHECK_THAT(*pem, Catch::StartsWith("-----BEGIN PUBLIC KEY-----"));
  CHECK(*ak_matches_pem(ak, *pem));
  Bytes other = *make_software_tpm()->ak_public();
  CHECK_FALSE(*ak_matches_pem(other, *pem));
  CHECK_FALSE(ak_matches_pem(ak, "not a key"));
}

TEST_CASE("TSS2 return codes are decoded", "[tpm]") {
  std::string msg = tss2_error("TPM2_Quote", TPM2_RC_HANDLE | TPM2_RC_1);
  CHECK_THAT(msg, Catch::StartsWith("TPM2_Quote: "));
  CHECK_THAT(msg, Catch::Contains("handle"));
  CHECK_THAT(msg, Catch::Contains("0x18b"));
}

TEST_CASE("an unreachable TPM is a clear error naming the TCTI", "[tpm]") {
  TpmOptions opts;
  opts.tcti = "swtpm:host=127.0.0.1,port=1";
  auto t = open_tpm(opts);
  REQUIRE_FALSE(t);
  CHECK_THAT(t.error().message(), Catch::Contains("TPM unavailable"));
  CHECK_THAT(t.error().message(), Catch::Contains("swtpm:host=127.0.0.1,port=1"));
}

TEST_CASE("TPM algorithm ids and AK names", "[tpm]") {
  CHECK(tpm_alg_id(HashAlgo::sha256) == TPM2_ALG_SHA256);
  CHECK(hash_algo_from_tpm_alg(TPM2_ALG_SHA1) == HashAlgo::sha1);
  CHECK_FALSE(tpm_alg_id(HashAlgo::md5).has_value());
  CHECK(ak_algo_from_name("rsa") == AkAlgo::rsa2048);
  CHECK_FALSE(ak_algo_from_name("dsa").has_value());
}
