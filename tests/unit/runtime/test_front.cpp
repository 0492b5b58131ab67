// ima-runc's front end: which commands go straight to runc, which to the full implementation.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "imashim/runtime/front.hpp"

using namespace imashim::runtime;
namespace fs = std::filesystem;

namespace {

// A node config, a bundle and the route of a command line, in a temp dir.
struct FrontFixture {
  fs::path dir = fs::temp_directory_path() / ("imashim-front-" + std::to_string(::getpid()));
  FrontFixture() {
    fs::create_directories(dir / "bundle/rootfs");
    fs::create_directories(dir / "run");
    ::setenv("IMASHIM_CONFIG", (dir / "config.json").c_str(), 1);
  }
  ~FrontFixture() {
    ::unsetenv("IMASHIM_CONFIG");
    fs::remove_all(dir);
  }
  void node(const std::string& extra) {
    std::ofstream(dir / "config.json") << R"({"runc_path": "/bin/true", "state_root": ")" << (dir / "run").string()
                                        << "\"" << extra << "}";
  }
  void annotations(const std::string& json) {
    std::ofstream(dir / "bundle/config.json")
        << R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "annotations": )" << json << "}";
  }
  FrontRoute::To route(std::vector<std::string> args) {
    args.insert(args.begin(), "ima-runc");
    return route_command(args).to;
  }
  FrontRoute::To create(const std::string& id = "c1") {
    return route({"--root", "/r", "create", "--bundle", (dir / "bundle").string(), "--pid-file", "/p", id});
  }
};

constexpr auto runc = FrontRoute::To::runc;
constexpr auto full = FrontRoute::To::full;

}  // namespace

TEST_CASE("front: runc's own commands go straight to runc", "[runtime][front]") {
  FrontFixture f;
  f.node("");
  for (const char* c : {"start", "kill", "state", "ps", "pause", "exec"}) {
    INFO(c);
    CHECK(f.route({"--root", "/r", c, "c1"}) == runc);
  }
  CHECK(f.route({"--version"}) == runc);
  CHECK(route_command({"ima-runc", "start", "c1"}).runc == "/bin/true");
}

TEST_CASE("front: mode off goes to runc unless an annotation opts in", "[runtime][front]") {
  FrontFixture f;
  f.node(R"(, "mode": "off")");
  f.annotations("{}");
  CHECK(f.create() == runc);
  f.annotations(R"({"org.imashim.mode": "off"})");
  CHECK(f.create() == runc);
  f.annotations(R"({"org.imashim.mode": "measure"})");
  CHECK(f.create() == full);
  f.annotations(R"({"org.imashim.mode": "bogus"})");
  CHECK(f.create() == full);  // the full implementation reports it
  f.node(R"(, "backend": "off")");
  CHECK(f.create() == runc);  // the node switched imashim off: annotations cannot turn it on
}

TEST_CASE("front: measured containers, broken input and unknown state go to the full implementation",
          "[runtime][front]") {
  FrontFixture f;
  f.node("");  // mode measure by default
  f.annotations("{}");
  CHECK(f.create() == full);
  CHECK(f.route({"run", "--bundle", (f.dir / "bundle").string(), "r1"}) == full);
  f.node(R"(, "mode": "off")");
  CHECK(f.create("../escape") == full);  // a bad id is reported there
  std::ofstream(f.dir / "bundle/config.json") << "{not json";
  CHECK(f.create() == full);
  f.node(R"(, "mode": "off", "hash_algo": "crc32")");
  CHECK(f.route({"start", "c1"}) == full);  // a broken node config: warned about there
}

TEST_CASE("front: delete goes to runc only when imashim has no state for the container", "[runtime][front]") {
  FrontFixture f;
  f.node("");
  CHECK(f.route({"delete", "--force", "c1"}) == runc);
  fs::create_directories(f.dir / "run/c1");
  CHECK(f.route({"delete", "--force", "c1"}) == full);
  CHECK(f.route({"delete", "../x"}) == full);
}

TEST_CASE("front: create and delete that go to the full implementation start runc first", "[runtime][front]") {
  FrontFixture f;
  f.node("");
  f.annotations("{}");
  auto route = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "ima-runc");
    return route_command(args);
  };
  const std::string bundle = (f.dir / "bundle").string();
  auto create = route({"--root", "/r", "create", "--bundle", bundle, "c1"});
  CHECK(create.to == full);
  CHECK(create.start_runc);
  CHECK(create.runc == "/bin/true");
  fs::create_directories(f.dir / "run/c1");
  auto del = route({"delete", "--force", "c1"});
  CHECK(del.to == full);
  CHECK(del.start_runc);
  // run turns into a create of its own; a bad id and a broken bundle are
  // reported by the full implementation before anything runs.
  CHECK_FALSE(route({"run", "--bundle", bundle, "r1"}).start_runc);
  CHECK_FALSE(route({"create", "--bundle", bundle, "../escape"}).start_runc);
  f.node(R"(, "mode": "off")");
  f.annotations(R"({"org.imashim.mode": "enforce"})");
  CHECK(route({"create", "--bundle", bundle, "c2"}).start_runc);  // an annotation opts in
  CHECK_FALSE(route({"create", "--bundle", (f.dir / "no-such-bundle").string(), "c3"}).start_runc);
  // A node config the front end does not read, and socket activation, whose
  // LISTEN_PID the full implementation rewrites for its own child.
  f.node(R"(, "hash_algo": "crc32")");
  CHECK_FALSE(route({"create", "--bundle", bundle, "c4"}).start_runc);
  f.node("");
  ::setenv("LISTEN_PID", "1", 1);
  CHECK_FALSE(route({"create", "--bundle", bundle, "c5"}).start_runc);
  ::unsetenv("LISTEN_PID");
}
