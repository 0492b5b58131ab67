// Digests with OpenSSL (the algorithm tables are in hash.cpp).
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>
#include <utility>

#include "imashim/formats/hash.hpp"

namespace imashim::formats {

const evp_md_st* evp_md(HashAlgo algo) {
  // Fetched once per algorithm; EVP_get_digestbyname is cheap but not free.
  static std::array<const EVP_MD*, kHashAlgoCount> cache = [] {
    std::array<const EVP_MD*, kHashAlgoCount> c{};
    for (int i = 0; i < kHashAlgoCount; ++i) {
      const char* name = openssl_digest_name(static_cast<HashAlgo>(i));
      c[i] = name ? EVP_get_digestbyname(name) : nullptr;
    }
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
