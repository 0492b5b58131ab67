// Hash algorithms: the kernel's names, ids and sizes (no OpenSSL here; hasher.cpp computes).
#include "imashim/formats/hash.hpp"

#include <array>
#include <cerrno>
#include <string>

namespace imashim::formats {
namespace {

struct AlgoInfo {
  std::string_view kernel_name;
  std::size_t size;
  const char* openssl_name;  // nullptr: OpenSSL has no such digest
};

// Indexed by the kernel id; names and sizes from crypto/hash_info.c.
constexpr std::array<AlgoInfo, kHashAlgoCount> kAlgos{{
    {"md4", 16, "MD4"},
    {"md5", 16, "MD5"},
    {"sha1", 20, "SHA1"},
    {"rmd160", 20, "RIPEMD160"},
    {"sha256", 32, "SHA256"},
    {"sha384", 48, "SHA384"},
    {"sha512", 64, "SHA512"},
    {"sha224", 28, "SHA224"},
    {"rmd128", 16, nullptr},
    {"rmd256", 32, nullptr},
    {"rmd320", 40, nullptr},
    {"wp256", 32, nullptr},
    {"wp384", 48, nullptr},
    {"wp512", 64, "whirlpool"},
    {"tgr128", 16, nullptr},
    {"tgr160", 20, nullptr},
    {"tgr192", 24, nullptr},
    {"sm3", 32, "SM3"},
    {"streebog256", 32, nullptr},
    {"streebog512", 64, nullptr},
}};

const AlgoInfo& info(HashAlgo a) { return kAlgos[static_cast<std::size_t>(a)]; }

}  // namespace

std::string_view hash_algo_name(HashAlgo algo) { return info(algo).kernel_name; }

std::optional<HashAlgo> hash_algo_from_name(std::string_view name) {
  for (int i = 0; i < kHashAlgoCount; ++i)
    if (kAlgos[i].kernel_name == name) return static_cast<HashAlgo>(i);
  struct Alias {
    std::string_view name;
    HashAlgo algo;
  };
  static constexpr Alias aliases[] = {{"sha-1", HashAlgo::sha1},     {"sha-256", HashAlgo::sha256},
                                      {"sha-384", HashAlgo::sha384}, {"sha-512", HashAlgo::sha512},
                                      {"sha-224", HashAlgo::sha224}, {"sm3-256", HashAlgo::sm3_256},
                                      {"ripemd160", HashAlgo::rmd160}};
  for (const auto& a : aliases)
    if (a.name == name) return a.algo;
  return std::nullopt;
}

std::optional<HashAlgo> hash_algo_from_id(unsigned id) {
  if (id >= static_cast<unsigned>(kHashAlgoCount)) return std::nullopt;
  return static_cast<HashAlgo>(id);
}

std::size_t digest_size(HashAlgo algo) { return info(algo).size; }

const char* openssl_digest_name(HashAlgo algo) { return info(algo).openssl_name; }

}  // namespace imashim::formats
