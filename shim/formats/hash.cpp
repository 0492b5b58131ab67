#include "imashim/formats/hash.hpp"

#include <openssl/evp.h>
#include <unistd.h>

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

const evp_md_st* evp_md(HashAlgo algo) {
  // Fetched once per algorithm; EVP_get_digestbyname is cheap but not free.
  static std::array<const EVP_MD*, kHashAlgoCount> cache = [] {
    std::array<const EVP_MD*, kHashAlgoCount> c{};
    for (int i = 0; i < kHashAlgoCount; ++i)
      c[i] = kAlgos[i].openssl_name ? EVP_get_digestbyname(kAlgos[i].openssl_name) : nullptr;
    return c;
  }();
  return cache[static_cast<std::size_t>(algo)];
}

Result<Hasher> Hasher::create(HashAlgo algo) {
  const EVP_MD* md = evp_md(algo);
  if (!md) return fail("hash algorithm " + std::string(hash_algo_name(algo)) + " is not available in OpenSSL");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_DigestInit_ex(ctx, md, nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    return fail("cannot initialise " + std::string(hash_algo_name(algo)));
  }
  return Hasher(algo, ctx);
}

Hasher::Hasher(Hasher&& o) noexcept : algo_(o.algo_), ctx_(std::exchange(o.ctx_, nullptr)) {}
Hasher& Hasher::operator=(Hasher&& o) noexcept {
  if (this != &o) {
    EVP_MD_CTX_free(ctx_);
    algo_ = o.algo_;
    ctx_ = std::exchange(o.ctx_, nullptr);
  }
  return *this;
}
Hasher::~Hasher() { EVP_MD_CTX_free(ctx_); }

void Hasher::update(ByteView data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }

Bytes Hasher::finish() {
  Bytes out(digest_size(algo_));
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx_, out.data(), &len);
  out.resize(len);
  return out;
}

void Hasher::reset() { EVP_DigestInit_ex(ctx_, evp_md(algo_), nullptr); }

Result<Bytes> hash_bytes(HashAlgo algo, ByteView data) {
  IMASHIM_TRY(Hasher h, Hasher::create(algo));
  h.update(data);
  return h.finish();
}

Result<Bytes> hash_fd(HashAlgo algo, int fd, std::size_t buffer_size) {
  IMASHIM_TRY(Hasher h, Hasher::create(algo));
  Bytes buf(buffer_size);
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read");
    }
    if (n == 0) break;
    h.update(ByteView(buf.data(), static_cast<std::size_t>(n)));
    off += n;
  }
  return h.finish();
}

}  // namespace imashim::formats
