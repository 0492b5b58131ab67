// ima-runc's front end reads the command line, the node config and the
// bundle's annotations without a C library (front_core.cpp). It must agree
// with the full implementation's readers, or be stricter (then ima-runc-full
// decides); tests/fuzz/fuzz_front_config.cpp checks the same on any input.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "imashim/runtime/bundle.hpp"
#include "imashim/runtime/config.hpp"
#include "imashim/runtime/front_core.hpp"
#include "imashim/runtime/runc_cli.hpp"

using namespace imashim::runtime;

TEST_CASE("front core: the command line is read as runc_cli reads it", "[runtime][front]") {
  const std::vector<std::vector<std::string>> lines{
      {"ima-runc", "--root", "/r", "create", "--bundle", "/b", "--pid-file", "/p", "c1"},
      {"ima-runc", "--root=/r", "--systemd-cgroup", "create", "-b", "/b", "c2", "--console-socket", "/s"},
      {"ima-runc", "create", "c3", "--bundle=/b"},
      {"ima-runc", "--log", "/l", "--log-format", "json", "delete", "--force", "c4"},
      {"ima-runc", "delete", "-f", "--", "--odd-id"},
      {"ima-runc", "run", "-d", "--bundle", "/b", "r1"},
      {"ima-runc", "--debug", "start", "c1"},
      {"ima-runc", "exec", "-e", "A=B", "-t", "c1", "sh"},
      {"ima-runc", "kill", "c1", "KILL"},
      {"ima-runc", "--unknown-global", "x", "state", "c1"},
      {"ima-runc", "create", "--unknown", "c5"},
      {"ima-runc", "--version"},
      {"ima-runc"},
      {"ima-runc", "--"},
      {"ima-runc", "--root"},
      {"ima-runc", "create", "--bundle"},
      {"ima-runc", "frobnicate", "c1"},
  };
  for (const auto& line : lines) {
    std::string joined;
    for (const auto& a : line) joined += a + " ";
    INFO(joined);
    std::vector<const char*> argv;
    for (const auto& a : line) argv.push_back(a.c_str());
    auto view = front::scan_command(static_cast<int>(argv.size()), argv.data());
    auto full = parse_runc_command(line);
    REQUIRE(view.ok == static_cast<bool>(full));
    if (!full) continue;
    CHECK(view.role == full->role());
    CHECK(view.has_id == full->container_id().has_value());
    if (view.has_id) CHECK(std::string(view.id) == *full->container_id());
    CHECK(std::string(view.bundle) == full->flag("bundle").value_or(""));
    CHECK(std::string(view.log) == full->global("log").value_or(""));
    CHECK(std::string(view.log_format) == full->global("log-format").value_or(""));
  }
}

TEST_CASE("front core: a node config it accepts is read as parse_node_config reads it", "[runtime][front]") {
  const std::vector<std::string> accepted{
      "{}",
      R"({"mode": "off"})",
      "\xEF\xBB\xBF{\"backend\": \"off\"}",
      R"( { "mode" : "enforce" , "runc_path" : "/usr//sbin/runc" , "state_root" : "/run/x/" } )",
      R"({"hash_algo": "sha512", "profile": "strict", "log_root": "/l", "layer_cache_root": "/c", "tpm": null})",
      R"({"mode": "measure", "mode": "off"})",
  };
  for (const auto& text : accepted) {
    INFO(text);
    front::NodeView view;
    REQUIRE(front::read_node_config(text, view));
    auto full = parse_node_config(text, "test");
    REQUIRE(full);
    CHECK(view.mode_off == (full->mode == imashim::backends::Mode::off));
    CHECK(view.backend_off == (full->backend == BackendChoice::off));
    CHECK(std::filesystem::path(std::string(view.runc_path)).lexically_normal() == full->runc_path);
    CHECK(std::filesystem::path(std::string(view.state_root)).lexically_normal() == full->state_root);
  }
}

TEST_CASE("front core: node configs it leaves to ima-runc-full", "[runtime][front]") {
  const std::vector<std::string> refused{
      "",
      "[]",
      R"({"mode": "off",})",                          // trailing comma
      R"({"mode": "off"} x)",                         // trailing text
      R"({"mode": "sideways"})",                      // bad value: the full implementation reports it
      R"({"runc_path": "runc"})",                     // not absolute
      R"({"profile": ""})",
      R"({"hash_algo": "crc32"})",
      R"({"nonsense": 1})",                           // unknown key
      R"({"tpm": {"tcti": "swtpm:port=2321"}})",      // a TPM block: read there
      R"({"mode": "o\u0066f"})",                      // an escape: not read here
      R"({"m\u006fde": "off"})",
      "{\"profile\": \"\xC0\xAF\"}",                  // overlong UTF-8
      "{\"profile\": \"\xED\xA0\x80\"}",              // an encoded surrogate
      R"({"profile": "\ud800"})",                     // a lone surrogate escape
      "{\"profile\": \"a\tb\"}",                      // a raw control character
      R"({"tpm": null /* comment */})",
  };
  for (const auto& text : refused) {
    INFO(text);
    front::NodeView view;
    CHECK_FALSE(front::read_node_config(text, view));
  }
}

TEST_CASE("front core: annotations that keep a container in mode off", "[runtime][front]") {
  auto config = [](const std::string& annotations) {
    return R"({"ociVersion": "1.0.2", "process": {"args": ["sh", "-c", "a \u0026\u0026 b"], "user": {"uid": 0}},)"
           R"( "root": {"path": "rootfs"}, "linux": {"resources": {"memory": {"limit": 1.5e9}}})" +
           (annotations.empty() ? std::string() : ", \"annotations\": " + annotations) + "}";
  };
  struct Case {
    std::string annotations;
    bool keeps_off;
  };
  const std::vector<Case> cases{
      {"", true},
      {"{}", true},
      {R"({"io.kubernetes.pod.name": "p", "org.imashim.enable": "true"})", true},
      {R"({"org.imashim.mode": "off"})", true},
      {R"({"org.imashim.profile": "strict"})", true},
      {R"({"org.imashim.mode": "measure"})", false},
      {R"({"org.imashim.mode": "bogus"})", false},
      {R"({"org.imashim.profile": ""})", false},
      {R"({"org.imashim.policy": "measure func=BPRM_CHECK"})", false},
      {R"({"org.imashim.mo\u0064e": "measure"})", false},
      {R"({"a": 1})", false},  // not a string: read_annotations reports it
      {R"([])", false},
  };
  for (const auto& c : cases) {
    auto text = config(c.annotations);
    INFO(text);
    CHECK(front::annotations_keep_off(text) == c.keeps_off);
    if (!c.keeps_off) continue;
    auto j = nlohmann::json::parse(text);
    auto annotations = read_annotations(j);
    REQUIRE(annotations);
    NodeConfig node;
    node.mode = imashim::backends::Mode::off;
    auto settings = container_settings(node, *annotations);
    REQUIRE(settings);
    CHECK(settings->mode == imashim::backends::Mode::off);
  }
  CHECK_FALSE(front::annotations_keep_off(R"({"x": 1e999})"));  // nlohmann::json: number overflow
  CHECK_FALSE(front::annotations_keep_off("{not json"));
}
