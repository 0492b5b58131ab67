// Hash algorithms as the kernel numbers them (include/uapi/linux/hash_info.h,
// `enum hash_algo`): the id is what `security.ima` and template fields carry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

struct evp_md_st;
struct evp_md_ctx_st;

namespace imashim::formats {

enum class HashAlgo : std::uint8_t {
  md4 = 0,
  md5 = 1,
  sha1 = 2,
  rmd160 = 3,
  sha256 = 4,
  sha384 = 5,
  sha512 = 6,
  sha224 = 7,
  rmd128 = 8,
  rmd256 = 9,
  rmd320 = 10,
  wp256 = 11,
  wp384 = 12,
  wp512 = 13,
  tgr128 = 14,
  tgr160 = 15,
  tgr192 = 16,
  sm3_256 = 17,
  streebog256 = 18,
  streebog512 = 19,
};
inline constexpr int kHashAlgoCount = 20;

// The kernel's name (`hash_algo_name[]`): "sha256", "sm3", "streebog256", ...
std::string_view hash_algo_name(HashAlgo algo);
// By kernel name; also accepts OpenSSL's spellings ("sha-256", "sm3-256").
std::optional<HashAlgo> hash_algo_from_name(std::string_view name);
// By kernel id (the byte in security.ima); nullopt when out of range.
std::optional<HashAlgo> hash_algo_from_id(unsigned id);
// Digest length in bytes (`hash_digest_size[]`).
std::size_t digest_size(HashAlgo algo);
// OpenSSL's digest for the algorithm, or nullptr where this OpenSSL has none.
// OpenSSL's name for the digest; nullptr when OpenSSL has none.
const char* openssl_digest_name(HashAlgo algo);
const evp_md_st* evp_md(HashAlgo algo);

// Incremental hashing with OpenSSL EVP.
class Hasher {
 public:
  static Result<Hasher> create(HashAlgo algo);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  HashAlgo algo() const { return algo_; }
  void update(ByteView data);
  // Ends the computation; the Hasher may then be reset() and reused.
  Bytes finish();
  void reset();

 private:
  Hasher(HashAlgo algo, evp_md_ctx_st* ctx) : algo_(algo), ctx_(ctx) {}
  HashAlgo algo_;
  evp_md_ctx_st* ctx_;
};

Result<Bytes> hash_bytes(HashAlgo algo, ByteView data);

// Hashes a whole open file with pread() from offset 0 (the fd's position is
// untouched, so fanotify event fds can be hashed without raising new events).
// Sequential reads of up to `buffer_size` bytes (fewer for a smaller file)
// into a buffer kept per thread. 64 KiB: the buffer stays in the L2 cache and
// comes from the heap, not from an mmap of its own whose pages the first read
// faults in (SHA-256 of busybox, 2 MiB, in a new process: 1.6 ms with 64 KiB,
// 2.3 ms with 256 KiB, on the benchmark machine).
Result<Bytes> hash_fd(HashAlgo algo, int fd, std::size_t buffer_size = 64 * 1024);

}  // namespace imashim::formats
