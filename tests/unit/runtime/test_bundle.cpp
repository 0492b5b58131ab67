#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "imashim/runtime/bundle.hpp"

using namespace imashim::runtime;
namespace fs = std::filesystem;

namespace {
struct TempBundle {
  fs::path dir;
  TempBundle() {
    dir = fs::temp_directory_path() / fmt_name();
    fs::remove_all(dir);
    fs::create_directories(dir / "rootfs");
  }
  ~TempBundle() { fs::remove_all(dir); }
  static std::string fmt_name() { return "imashim-bundle-" + std::to_string(::getpid()); }
  void config(const std::string& text) { std::ofstream(dir / "config.json") << text; }
};
}  // namespace

TEST_CASE("bundle: relative rootfs, annotations") {
  TempBundle b;
  b.config(R"({"root": {"path": "rootfs", "readonly": true}, "annotations": {"org.imashim.mode": "enforce"}})");
  auto r = load_bundle(b.dir);
  REQUIRE(r.ok());
  CHECK(r->rootfs == b.dir / "rootfs");
  CHECK(r->rootfs_readonly);
  CHECK(r->annotations.at("org.imashim.mode") == "enforce");
}

TEST_CASE("bundle: an absolute rootfs outside the bundle is taken (podman)") {
  TempBundle b;
  auto outside = fs::temp_directory_path() / ("imashim-merged-" + std::to_string(::getpid()));
  fs::create_directories(outside);
  b.config(R"({"root": {"path": ")" + outside.string() + R"("}})");
  auto r = load_bundle(b.dir);
  REQUIRE(r.ok());
  CHECK(r->rootfs == outside);
  fs::remove_all(outside);
}

TEST_CASE("bundle: bad input names the input") {
  TempBundle b;
  auto err = [&](const std::string& cfg) {
    b.config(cfg);
    auto r = load_bundle(b.dir);
    REQUIRE_FALSE(r.ok());
    return r.error().message();
  };
  CHECK_THAT(err(R"({"root": {"path": "../../etc"}})"), Catch::Contains("escapes the bundle"));
  CHECK_THAT(err(R"({"root": {"path": "rootfs/../../x"}})"), Catch::Contains("escapes the bundle"));
  CHECK_THAT(err(R"({"root": {"path": "missing"}})"), Catch::Contains("rootfs") && Catch::Contains("missing"));
  CHECK_THAT(err(R"({"root": 3})"), Catch::Contains("root.path"));
  CHECK_THAT(err("{not json"), Catch::Contains("config.json") && Catch::Contains("not a valid JSON"));
  CHECK_THAT(err(R"({"root": {"path": "rootfs"}, "annotations": {"a": 1}})"), Catch::Contains("annotation \"a\""));
  fs::remove(b.dir / "config.json");
  auto r = load_bundle(b.dir);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message(), Catch::Contains("config.json") && Catch::Contains("No such file"));
  auto missing = load_bundle(b.dir / "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message(), Catch::Contains("bundle") && Catch::Contains("nope"));
}

TEST_CASE("layers: the topmost overlay mount at the rootfs") {
  std::string mountinfo =
      "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "100 22 0:50 / /run/c/rootfs rw - tmpfs tmpfs rw\n"
      "101 22 0:51 / /run/c/rootfs rw,relatime - overlay overlay "
      "rw,lowerdir=/l/3/fs:/l/2/fs:/l/with\\:colon/fs,upperdir=/l/4/fs,workdir=/l/4/work\n"
      "102 22 0:52 / /run/other rw - overlay overlay rw,lowerdir=/x,upperdir=/y,workdir=/z\n"
      "103 22 0:53 / /run/sp\\040ace rw - ext4 /dev/sdb rw\n";
  auto l = find_layers_in(mountinfo, "/run/c/rootfs");
  REQUIRE(l.ok());
  CHECK(l->overlay);
  CHECK(l->lower == std::vector<fs::path>{"/l/3/fs", "/l/2/fs", "/l/with:colon/fs"});
  CHECK(l->upper == "/l/4/fs");
  auto plain = find_layers_in(mountinfo, "/run/sp ace");
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->overlay);
  auto none = find_layers_in(mountinfo, "/somewhere");
  REQUIRE(none.ok());
  CHECK_FALSE(none->overlay);
  CHECK(none->lower.empty());
}
