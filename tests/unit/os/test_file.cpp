#include <catch2/catch.hpp>

#include <cerrno>
#include <fstream>

#include "imashim/os/file.hpp"

namespace fs = std::filesystem;

TEST_CASE("read_file returns the whole content and names the file on errors", "[os]") {
  fs::path dir = fs::temp_directory_path() / ("imashim-read-file-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string big(200 * 1024, 'x');  // more than one read
  big += "end";
  std::ofstream(dir / "big", std::ios::binary) << big;
  std::ofstream(dir / "empty");

  auto r = imashim::os::read_file(dir / "big");
  REQUIRE(r.ok());
  CHECK(*r == big);
  auto e = imashim::os::read_file(dir / "empty");
  REQUIRE(e.ok());
  CHECK(e->empty());

  auto missing = imashim::os::read_file(dir / "missing");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message() == "open `" + (dir / "missing").string() + "`: No such file or directory");
  CHECK(missing.error().sys_errno() == ENOENT);

  auto directory = imashim::os::read_file(dir);
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().message() == "read `" + dir.string() + "`: Is a directory");
  fs::remove_all(dir);
}
