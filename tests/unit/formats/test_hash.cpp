#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "imashim/formats/hash.hpp"
#include "imashim/os/fd.hpp"

using namespace imashim;
using namespace imashim::formats;

TEST_CASE("hash algorithm table matches the kernel's enum hash_algo", "[formats][hash]") {
  CHECK(static_cast<int>(HashAlgo::sha1) == 2);
  CHECK(static_cast<int>(HashAlgo::sha256) == 4);
  CHECK(static_cast<int>(HashAlgo::sha512) == 6);
  CHECK(static_cast<int>(HashAlgo::sm3_256) == 17);
  CHECK(hash_algo_name(HashAlgo::sm3_256) == "sm3");
  CHECK(hash_algo_name(HashAlgo::streebog512) == "streebog512");
  CHECK(digest_size(HashAlgo::sha384) == 48);
  CHECK(digest_size(HashAlgo::rmd320) == 40);
  CHECK(hash_algo_from_name("sha256") == HashAlgo::sha256);
  CHECK(hash_algo_from_name("sha-256") == HashAlgo::sha256);
  CHECK_FALSE(hash_algo_from_name("sha3-256").has_value());
  CHECK(hash_algo_from_id(19) == HashAlgo::streebog512);
  CHECK_FALSE(hash_algo_from_id(20).has_value());
}

TEST_CASE("known answers for the empty string and 'abc'", "[formats][hash]") {
  CHECK(to_hex(*hash_bytes(HashAlgo::sha1, as_bytes("abc"))) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(to_hex(*hash_bytes(HashAlgo::sha256, as_bytes(""))) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(to_hex(*hash_bytes(HashAlgo::sha512, as_bytes("abc"))).substr(0, 16) == "ddaf35a193617aba");
}

TEST_CASE("an algorithm OpenSSL lacks is an error naming it", "[formats][hash]") {
  auto r = Hasher::create(HashAlgo::tgr192);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message() == "hash algorithm tgr192 is not available in OpenSSL");
}

TEST_CASE("hash_fd reads the whole file without moving the offset", "[formats][hash]") {
  char path[] = "/tmp/imashim-hash-XXXXXX";
  os::UniqueFd fd(::mkstemp(path));
  REQUIRE(fd.valid());
  ::unlink(path);
  std::string data(3 * 1000 * 1000 + 7, 'x');
  REQUIRE(::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  REQUIRE(::lseek(fd.get(), 5, SEEK_SET) == 5);
  auto digest = hash_fd(HashAlgo::sha256, fd.get(), 64 * 1024);
  REQUIRE(digest.ok());
  CHECK(*digest == *hash_bytes(HashAlgo::sha256, as_bytes(data)));
  CHECK(::lseek(fd.get(), 0, SEEK_CUR) == 5);
}
