// Digests with OpenSSL (the algorithm tables are in hash.cpp).
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "imashim/formats/hash.hpp"

namespace imashim::formats {

const evp_md_st* evp_md(HashAlgo algo) {
  // Fetched once per algorithm, when first asked for: a process that hashes
  // with one algorithm does not look up the others.
  static std::array<std::once_flag, kHashAlgoCount> once;
  static std::array<const EVP_MD*, kHashAlgoCount> cache{};
  auto i = static_cast<std::size_t>(algo);
  std::call_once(once[i], [&] {
    const char* name = openssl_digest_name(algo);
    if (!name) return;
    // Fetched explicitly from the providers, once: a digest looked up by name
    // alone is fetched again by every EVP_DigestInit_ex (OpenSSL 3's implicit
    // fetch), that is for every file hashed. Kept for the process's life.
    cache[i] = EVP_MD_fetch(nullptr, name, nullptr);
    if (!cache[i]) cache[i] = EVP_get_digestbyname(name);
  });
  return cache[i];
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
  // No larger than the file (and its EOF read): a small manifest or config
  // file does not pay for faulting in a large buffer. The buffer is kept per
  // thread and never zeroed: the monitor's workers hash file after file.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size >= 0)
    buffer_size = std::min(buffer_size, std::max<std::size_t>(static_cast<std::size_t>(st.st_size) + 1, 4096));
  thread_local std::unique_ptr<std::uint8_t[]> buf;
  thread_local std::size_t capacity = 0;
  if (capacity < buffer_size) {
    buf = std::make_unique_for_overwrite<std::uint8_t[]>(buffer_size);
    capacity = buffer_size;
  }
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.get(), buffer_size, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read");
    }
    if (n == 0) break;
    h.update(ByteView(buf.get(), static_cast<std::size_t>(n)));
    off += n;
  }
  return h.finish();
}

}  // namespace imashim::formats
