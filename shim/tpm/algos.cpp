// Name and id tables shared by the TPM code.
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tpm2_types.h>

#include <array>
#include <cstdio>

#include "imashim/tpm/tpm.hpp"

namespace imashim::tpm {
namespace {

struct AlgPair {
  HashAlgo algo;
  std::uint16_t tpm;
};
constexpr std::array<AlgPair, 5> kAlgs{{
    {HashAlgo::sha1, TPM2_ALG_SHA1},
    {HashAlgo::sha256, TPM2_ALG_SHA256},
    {HashAlgo::sha384, TPM2_ALG_SHA384},
    {HashAlgo::sha512, TPM2_ALG_SHA512},
    {HashAlgo::sm3_256, TPM2_ALG_SM3_256},
}};

struct AkName {
  AkAlgo algo;
  std::string_view name;
};
constexpr std::array<AkName, 2> kAkNames{{{AkAlgo::ecc_p256, "ecc"}, {AkAlgo::rsa2048, "rsa"}}};

}  // namespace

std::optional<std::uint16_t> tpm_alg_id(HashAlgo algo) {
  for (const auto& a : kAlgs)
    if (a.algo == algo) return a.tpm;
  return std::nullopt;
}

std::optional<HashAlgo> hash_algo_from_tpm_alg(std::uint16_t alg_id) {
  for (const auto& a : kAlgs)
    if (a.tpm == alg_id) return a.algo;
  return std::nullopt;
}

std::string_view ak_algo_name(AkAlgo algo) {
  for (const auto& a : kAkNames)
    if (a.algo == algo) return a.name;
  return "?";
}

std::optional<AkAlgo> ak_algo_from_name(std::string_view name) {
  for (const auto& a : kAkNames)
    if (a.name == name) return a.algo;
  return std::nullopt;
}

std::string tss2_error(std::string_view what, std::uint32_t rc) {
  char code[16];
  std::snprintf(code, sizeof code, "0x%x", rc);
  std::string msg(what);
  msg += ": ";
  msg += Tss2_RC_Decode(rc);
  msg += " (";
  msg += code;
  msg += ")";
  return msg;
}

}  // namespace imashim::tpm
