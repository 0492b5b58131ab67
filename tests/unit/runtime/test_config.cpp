#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "imashim/runtime/config.hpp"

using namespace imashim;
using namespace imashim::runtime;
using backends::Mode;

namespace {
std::string parse_error(std::string_view text) {
  auto r = parse_node_config(text, "config.json");
  REQUIRE_FALSE(r.ok());
  return r.error().message();
}
}  // namespace

TEST_CASE("node config: an empty object gives the defaults") {
  auto c = parse_node_config("{}", "config.json");
  REQUIRE(c.ok());
  CHECK(c->backend == BackendChoice::auto_);
  CHECK(c->mode == Mode::measure);
  CHECK(c->hash_algo == formats::HashAlgo::sha256);
  CHECK(c->profile == "default");
  CHECK(c->runc_path.empty());
  CHECK_FALSE(c->tpm.has_value());
  CHECK(c->state_root == "/run/imashim");
  CHECK(c->log_root == "/var/lib/imashim/containers");
  CHECK(c->layer_cache_root == "/var/lib/imashim/layers");
}

TEST_CASE("node config: every key is read") {
  auto c = parse_node_config(R"({
    "backend": "fanotify", "mode": "enforce", "hash_algo": "sha512", "profile": "strict",
    "runc_path": "/usr/sbin/runc", "state_root": "/tmp/s", "log_root": "/tmp/l/", "layer_cache_root": "/tmp/c",
    "tpm": {"tcti": "swtpm:host=127.0.0.1,port=2321", "pcr": 16, "on_failure": "require",
            "anchor_every_events": 10, "anchor_every_seconds": 0}})",
                             "config.json");
  REQUIRE(c.ok());
  CHECK(c->backend == BackendChoice::fanotify);
  CHECK(c->mode == Mode::enforce);
  CHECK(c->hash_algo == formats::HashAlgo::sha512);
  CHECK(c->profile == "strict");
  CHECK(c->runc_path == "/usr/sbin/runc");
  CHECK(c->log_root == "/tmp/l/");
  REQUIRE(c->tpm.has_value());
  CHECK(c->tpm->tcti == "swtpm:host=127.0.0.1,port=2321");
  CHECK(c->tpm->pcr == 16);
  CHECK(c->tpm->on_failure == TpmOnFailure::require);
  CHECK(c->tpm->anchor_every_events == 10);
  CHECK(c->tpm->anchor_every_seconds == 0);
  // Round trip through to_json.
  auto again = parse_node_config(c->to_json().dump(), "again");
  REQUIRE(again.ok());
  CHECK(again->to_json() == c->to_json());
}

TEST_CASE("node config: errors name the key and the problem") {
  CHECK_THAT(parse_error(R"({"backend": "ebpf"})"),
             Catch::Contains("key \"backend\"") && Catch::Contains("\"ebpf\"") && Catch::Contains("fanotify"));
  CHECK_THAT(parse_error(R"({"mode": 3})"), Catch::Contains("key \"mode\"") && Catch::Contains("string"));
  CHECK_THAT(parse_error(R"({"hash_algo": "crc32"})"), Catch::Contains("key \"hash_algo\""));
  CHECK_THAT(parse_error(R"({"runc_path": "runc"})"),
             Catch::Contains("key \"runc_path\"") && Catch::Contains("absolute"));
  CHECK_THAT(parse_error(R"({"state_root": "rel/dir"})"), Catch::Contains("key \"state_root\""));
  CHECK_THAT(parse_error(R"({"colour": "blue"})"), Catch::Contains("key \"colour\": unknown key"));
  CHECK_THAT(parse_error(R"({"tpm": {"pcr": 30, "tcti": "x"}})"),
             Catch::Contains("key \"tpm\"") && Catch::Contains("\"pcr\"") && Catch::Contains("out of range"));
  CHECK_THAT(parse_error(R"({"tpm": {"pcr": 23}})"), Catch::Contains("\"tcti\": missing"));
  CHECK_THAT(parse_error(R"({"tpm": {"tcti": "x", "on_failure": "maybe"}})"), Catch::Contains("\"on_failure\""));
  CHECK_THAT(parse_error(R"({"tpm": {"tcti": "x", "anchor_every_events": -1}})"),
             Catch::Contains("\"anchor_every_events\""));
  CHECK_THAT(parse_error("{\"mode\": "), Catch::Contains("config.json: not valid JSON"));
  CHECK_THAT(parse_error("[]"), Catch::Contains("expected a JSON object"));
}

TEST_CASE("node config: load uses IMASHIM_CONFIG; a named missing file is an error") {
  auto dir = std::filesystem::temp_directory_path() / "imashim-config-test";
  std::filesystem::create_directories(dir);
  auto file = dir / "config.json";
  std::ofstream(file) << R"({"mode": "log"})";
  ::setenv("IMASHIM_CONFIG", file.c_str(), 1);
  auto c = load_node_config();
  REQUIRE(c.ok());
  CHECK(c->mode == Mode::log);
  CHECK(c->source == file);
  ::setenv("IMASHIM_CONFIG", (dir / "missing.json").c_str(), 1);
  auto missing = load_node_config();
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message(), Catch::Contains("missing.json"));
  ::unsetenv("IMASHIM_CONFIG");
  std::filesystem::remove_all(dir);
}

TEST_CASE("annotations tighten the mode, never loosen it") {
  NodeConfig node;
  node.mode = Mode::log;
  auto up = container_settings(node, {{"org.imashim.mode", "enforce"}});
  REQUIRE(up.ok());
  CHECK(up->mode == Mode::enforce);
  CHECK(up->notes.empty());
  auto down = container_settings(node, {{"org.imashim.mode", "off"}});
  REQUIRE(down.ok());
  CHECK(down->mode == Mode::log);
  REQUIRE(down->notes.size() == 1);
  CHECK_THAT(down->notes[0], Catch::Contains("ignored"));
  node.mode = Mode::off;
  auto from_off = container_settings(node, {{"org.imashim.mode", "measure"}});
  REQUIRE(from_off.ok());
  CHECK(from_off->mode == Mode::measure);
  auto bad = container_settings(node, {{"org.imashim.mode", "strict"}});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message(), Catch::Contains("org.imashim.mode") && Catch::Contains("strict"));
}

TEST_CASE("annotations add policy rules but never dont_ rules") {
  NodeConfig node;
  auto ok = container_settings(node, {{"org.imashim.policy", "measure func=FILE_CHECK\n"},
                                      {"org.imashim.profile", "strict"}});
  REQUIRE(ok.ok());
  CHECK(ok->extra_policy == "measure func=FILE_CHECK\n");
  CHECK(ok->extra_profile == "strict");
  CHECK(ok->profile == "default");
  auto same = container_settings(node, {{"org.imashim.profile", "default"}});
  REQUIRE(same.ok());
  CHECK_FALSE(same->extra_profile.has_value());
  auto loosen = container_settings(node, {{"org.imashim.policy", "measure func=BPRM_CHECK\n dont_measure fsmagic=0x9fa0"}});
  REQUIRE_FALSE(loosen.ok());
  CHECK_THAT(loosen.error().message(), Catch::Contains("line 2") && Catch::Contains("dont_measure"));
}


TEST_CASE("mode strictness order") {
  CHECK(stricter_mode(Mode::off, Mode::measure) == Mode::measure);
  CHECK(stricter_mode(Mode::enforce, Mode::log) == Mode::enforce);
  CHECK(mode_rank(Mode::log) > mode_rank(Mode::measure));
  CHECK(backend_kind(BackendChoice::auto_) == std::nullopt);
  CHECK(backend_kind(BackendChoice::fanotify) == backends::Kind::fanotify);
  CHECK(backend_choice_from_name("ns-user") == BackendChoice::ns_user);
}

TEST_CASE("the shipped example node config is valid and is the default") {
  std::ifstream in(std::string(IMASHIM_SOURCE_DIR) + "/packaging/imashim/config.json");
  REQUIRE(in);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto c = parse_node_config(text, "packaging/imashim/config.json");
  REQUIRE(c.ok());
  auto defaults = NodeConfig{}.to_json();
  CHECK(c->to_json() == defaults);
}
