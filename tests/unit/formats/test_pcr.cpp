#include <catch2/catch.hpp>

#include <algorithm>

#include "imashim/formats/pcr.hpp"

using namespace imashim;
using namespace imashim::formats;

TEST_CASE("PCR extend: H(old || digest)", "[formats][pcr]") {
  auto b = PcrBank::create(HashAlgo::sha1);
  REQUIRE(b.ok());
  Bytes d(20, 0x01);
  REQUIRE(b->extend(10, d).ok());
  Bytes in(40, 0x01);
  std::fill(in.begin(), in.begin() + 20, 0);
  CHECK(b->value(10) == *hash_bytes(HashAlgo::sha1, in));
  CHECK(b->value(3) == Bytes(20, 0));
  CHECK(b->extend(10, Bytes(32, 0)).error().message() == "cannot extend sha1 PCR 10 with a 32-byte digest");
  b->extend_violation(11);
  Bytes v(40, 0xff);
  std::fill(v.begin(), v.begin() + 20, 0);
  CHECK(b->value(11) == *hash_bytes(HashAlgo::sha1, v));
}

TEST_CASE("PCR files: evmctl, TPM 1.2 sysfs, tpm2_pcrread, bare hex", "[formats][pcr]") {
  std::string h1(40, 'a'), h256(64, 'b');
  auto evm = parse_pcr_text("PCR-00: " + std::string(64, '0') + "\nPCR-10: " + h256 + "\n", HashAlgo::sha256);
  REQUIRE(evm.ok());
  CHECK(to_hex((*evm)[HashAlgo::sha256][10]) == h256);
  auto tpm12 = parse_pcr_text("PCR-10: AA AA AA AA AA AA AA AA AA AA AA AA AA AA AA AA AA AA AA AA\n", std::nullopt);
  REQUIRE(tpm12.ok());
  CHECK(to_hex((*tpm12)[HashAlgo::sha1][10]) == h1);
  auto tpm2 = parse_pcr_text("sha1:\n  10: 0x" + h1 + "\nsha256:\n  10: 0x" + h256 + "\n  7 : 0x" + h256 + "\n",
                             std::nullopt);
  REQUIRE(tpm2.ok());
  CHECK((*tpm2)[HashAlgo::sha256].size() == 2);
  CHECK(to_hex((*tpm2)[HashAlgo::sha1][10]) == h1);
  auto bare = parse_pcr_text(h256 + "\n", std::nullopt);
  REQUIRE(bare.ok());
  CHECK(to_hex((*bare)[HashAlgo::sha256][10]) == h256);
  CHECK(parse_pcr_text("PCR-10: abcd\n", HashAlgo::sha1).error().message() ==
        "line 1: a sha1 PCR value has 20 bytes, this one 2");
  CHECK(parse_pcr_text("sha256:\n  99: 0x00\n", std::nullopt).error().message() ==
        "line 2: PCR index 99 is out of range (0..23)");
  CHECK_FALSE(parse_pcr_text("", std::nullopt).ok());
  PcrValues v;
  REQUIRE(parse_pcr_arg("sha256:" + h256, v).ok());
  REQUIRE(parse_pcr_arg("sha1:7:" + h1, v).ok());
  CHECK(v[HashAlgo::sha1].count(7) == 1);
  CHECK(v[HashAlgo::sha256].count(10) == 1);
  CHECK_FALSE(parse_pcr_arg("md9:" + h1, v).ok());
}

TEST_CASE("evmctl --pcrs output format", "[formats][pcr]") {
  auto b = PcrBank::create(HashAlgo::sha256);
  REQUIRE(b->extend(10, Bytes(32, 0)).ok());
  std::string s = format_pcrs_evmctl(*b);
  CHECK(s.substr(0, 8) == "PCR-00: ");
  CHECK(s.find("\nPCR-10: " + to_hex(b->value(10)) + "\n") != std::string::npos);
  CHECK(std::count(s.begin(), s.end(), '\n') == 24);
  auto back = parse_pcr_text(s, HashAlgo::sha256);
  REQUIRE(back.ok());
  CHECK((*back)[HashAlgo::sha256][10] == b->value(10));
}
