#include <catch2/catch.hpp>

#include "imashim/util/bytes.hpp"

using namespace imashim;

TEST_CASE("hex round trip and errors that name the position", "[util]") {
  Bytes b{0x00, 0xab, 0xff};
  CHECK(to_hex(b) == "00abff");
  CHECK(*from_hex("00ABff") == b);
  auto odd = from_hex("abc");
  REQUIRE_FALSE(odd.ok());
  CHECK(odd.error().message() == "hex string has odd length 3");
  auto bad = from_hex("0g");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() == "not a hex digit 'g' at position 1");
}

TEST_CASE("fixed-width integer codecs", "[util]") {
  Bytes out;
  put_le32(out, 0x01020304);
  put_be32(out, 0x01020304);
  put_be16(out, 0xabcd);
  CHECK(out == Bytes{4, 3, 2, 1, 1, 2, 3, 4, 0xab, 0xcd});
  CHECK(get_le32(out.data()) == 0x01020304);
  CHECK(get_be32(out.data() + 4) == 0x01020304);
  CHECK(get_be16(out.data() + 8) == 0xabcd);
}

TEST_CASE("errors carry context added going up", "[util]") {
  auto inner = []() -> Result<int> { return fail_errno("open `config.json`", ENOENT); };
  auto outer = [&]() -> Result<int> {
    IMASHIM_TRY(int v, inner());
    return v;
  };
  auto r = outer();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message() == "open `config.json`: No such file or directory");
  CHECK(r.error().sys_errno() == ENOENT);
  Error e = r.error();
  CHECK(e.context("load node config").message() == "load node config: open `config.json`: No such file or directory");
}
