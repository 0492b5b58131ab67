#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "imashim/node/engine_setup.hpp"
#include "imashim/node/engines.hpp"
#include "imashim/os/file.hpp"

using namespace imashim::node;
namespace fs = std::filesystem;

namespace {

const std::string kBin = "/usr/local/bin/ima-runc";

EngineSetup setup_for(Engine e, bool make_default = false) {
  EngineSetup s;
  s.engine = e;
  s.binary = kBin;
  s.make_default = make_default;
  return s;
}

std::string edit(const EngineSetup& s, const std::string& text) {
  auto r = edit_engine_config(s, text, "config");
  REQUIRE(r.ok());
  return r->text;
}

std::string error_of(const EngineSetup& s, const std::string& text) {
  auto r = edit_engine_config(s, text, "/etc/x/config");
  REQUIRE_FALSE(r.ok());
  return r.error().message();
}

// A config the way operators keep it: containerd's own default layout, comments, another runtime.
const std::string kContainerd = R"(# node config, managed by hand
version = 2
root = "/var/lib/containerd"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"   # the stock runtime
      snapshotter = "overlayfs"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = true

[grpc]
  address = "/run/containerd/containerd.sock"
)";

}  // namespace

TEST_CASE("containerd: a new file gets config version 2 and the runtime", "[node][engine_setup]") {
  CHECK(edit(setup_for(Engine::containerd), "") == R"(version = 2

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-runc.options]
  BinaryName = "/usr/local/bin/ima-runc"
)");
}

TEST_CASE("containerd: an operator's file keeps every line; the default is changed in place", "[node][engine_setup]") {
  auto r = edit_engine_config(setup_for(Engine::containerd, true), kContainerd, "config.toml");
  REQUIRE(r.ok());
  CHECK(r->changed);
  std::string expected = kContainerd;
  expected.replace(expected.find(R"("runc"   # the stock)"), 6, R"("ima-runc")");
  expected += R"(
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-runc.options]
  BinaryName = "/usr/local/bin/ima-runc"
)";
  CHECK(r->text == expected);
  CHECK(r->changes.size() == 2);

  SECTION("a second setup changes nothing") {
    auto again = edit_engine_config(setup_for(Engine::containerd, true), r->text, "config.toml");
    REQUIRE(again.ok());
    CHECK_FALSE(again->changed);
    CHECK(again->text == r->text);
    CHECK(again->changes.empty());
  }
}

TEST_CASE("containerd: keys go into the table's own block, indented like its keys", "[node][engine_setup]") {
  std::string text = R"(version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-runc]
    runtime_type = "io.containerd.runc.v2"
    pod_annotations = ["a"]

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
[debug]
  level = "info"
)";
  CHECK(edit(setup_for(Engine::containerd, true), text) == R"(version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-runc]
    runtime_type = "io.containerd.runc.v2"
    pod_annotations = ["a"]

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "ima-runc"
[debug]
  level = "info"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-runc.options]
  BinaryName = "/usr/local/bin/ima-runc"
)");
}

TEST_CASE("containerd: the CRI plugin's name follows the config version", "[node][engine_setup]") {
  // No `version` in a non-empty file: containerd reads it as version 1.
  std::string v1 = edit(setup_for(Engine::containerd), "root = \"/var/lib/containerd\"\n");
  CHECK(v1.find("[plugins.cri.containerd.runtimes.ima-runc]") != std::string::npos);
  std::string v3 = edit(setup_for(Engine::containerd, true), "version = 3\n");
  CHECK(v3.find("[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.ima-runc.options]") != std::string::npos);
  CHECK(v3.find("[plugins.\"io.containerd.cri.v1.runtime\".containerd]\n  default_runtime_name = \"ima-runc\"") !=
        std::string::npos);
  CHECK_THAT(error_of(setup_for(Engine::containerd), "version = 7\n"),
             Catch::Contains("/etc/x/config: config version 7"));
}

TEST_CASE("containerd: a runtime of that name running another binary is refused unless forced", "[node][engine_setup]") {
  std::string text = R"(version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-runc.options]
  BinaryName = "/usr/bin/crun" # not ours
)";
  CHECK_THAT(error_of(setup_for(Engine::containerd), text),
             Catch::Contains("/etc/x/config already has a runtime `ima-runc` with BinaryName /usr/bin/crun"));
  EngineSetup forced = setup_for(Engine::containerd);
  forced.force = true;
  std::string out = edit(forced, text);
  CHECK(out.find("  BinaryName = \"/usr/local/bin/ima-runc\" # not ours\n") != std::string::npos);
  CHECK(out.find("crun") == std::string::npos);
}

TEST_CASE("containerd: what cannot be edited safely is an error and nothing else", "[node][engine_setup]") {
  CHECK_THAT(error_of(setup_for(Engine::containerd), "version = 2\n[plugins\nx = 1\n"), Catch::Contains("/etc/x/config:2:"));
  std::string inline_table = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes]\n"
                             "ima-runc = { runtime_type = \"io.containerd.runc.v2\" }\n";
  CHECK_THAT(error_of(setup_for(Engine::containerd), inline_table), Catch::Contains("inline table"));
  CHECK_THAT(error_of(setup_for(Engine::containerd), "version = \"2\"\n"), Catch::Contains("not an integer"));
}

TEST_CASE("docker: daemon.json keeps its keys and order", "[node][engine_setup]") {
  CHECK(edit(setup_for(Engine::docker), "") == "{\n  \"runtimes\": {\n    \"ima-runc\": {\n      \"path\": \"" + kBin +
                                                   "\"\n    }\n  }\n}\n");
  std::string text = R"({"storage-driver": "overlay2", "runtimes": {"crun": {"path": "/usr/bin/crun"}}, "debug": true})";
  auto r = edit_engine_config(setup_for(Engine::docker, true), text, "daemon.json");
  REQUIRE(r.ok());
  auto j = nlohmann::ordered_json::parse(r->text);
  std::vector<std::string> keys;
  for (auto& [k, v] : j.items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"storage-driver", "runtimes", "debug", "default-runtime"});
  CHECK(j["runtimes"]["crun"]["path"] == "/usr/bin/crun");
  CHECK(j["runtimes"]["ima-runc"]["path"] == kBin);
  CHECK(j["default-runtime"] == "ima-runc");

  auto again = edit_engine_config(setup_for(Engine::docker, true), r->text, "daemon.json");
  REQUIRE(again.ok());
  CHECK_FALSE(again->changed);

  CHECK_THAT(error_of(setup_for(Engine::docker), R"({"runtimes": {"ima-runc": {"runtimeType": "io.containerd.runsc.v1"}}})"),
             Catch::Contains("already has a runtime `ima-runc` with no `path`"));
  CHECK_THAT(error_of(setup_for(Engine::docker), "{\"runtimes\": "), Catch::Contains("/etc/x/config: not valid JSON"));
  CHECK_THAT(error_of(setup_for(Engine::docker), "[1]"), Catch::Contains("not a JSON object"));
}

TEST_CASE("podman: a drop-in of its own, or an operator's containers.conf", "[node][engine_setup]") {
  CHECK(edit(setup_for(Engine::podman), "") == "[engine.runtimes]\n  ima-runc = [\"/usr/local/bin/ima-runc\"]\n");
  std::string conf = R"([containers]
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
runtime = "crun"

[engine.runtimes]
crun = ["/usr/bin/crun"]
)";
  CHECK(edit(setup_for(Engine::podman, true), conf) == R"([containers]
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
runtime = "ima-runc"

[engine.runtimes]
crun = ["/usr/bin/crun"]
ima-runc = ["/usr/local/bin/ima-runc"]
)");
  CHECK_THAT(error_of(setup_for(Engine::podman), "[engine.runtimes]\nima-runc = [\"/usr/bin/runc\"]\n"),
             Catch::Contains("already has a runtime `ima-runc` with paths [\"/usr/bin/runc\"]"));
}

TEST_CASE("engine setup refuses a bad name or a relative binary", "[node][engine_setup]") {
  EngineSetup s = setup_for(Engine::docker);
  s.runtime_name = "ima runc";
  CHECK_THAT(error_of(s, ""), Catch::Contains("runtime name `ima runc`"));
  s = setup_for(Engine::podman);
  s.binary = "ima-runc";
  CHECK_THAT(error_of(s, ""), Catch::Contains("binary `ima-runc`: the engine needs an absolute path"));
}

TEST_CASE("setup_engine writes the file, keeps the old one, and the readers see the runtime", "[node][engine_setup]") {
  fs::path dir = fs::temp_directory_path() / "imashim-unit-engine-setup";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::path bin = dir / "ima-runc";
  std::ofstream(bin) << "#!/bin/sh\n";
  fs::permissions(bin, fs::perms::owner_all);
  EngineSetup s = setup_for(Engine::containerd, true);
  s.binary = bin.string();

  fs::path file = dir / "etc/containerd/config.toml";
  fs::create_directories(file.parent_path());
  std::ofstream(file) << kContainerd;
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);

  auto dry = setup_engine(s, file, true);
  REQUIRE(dry.ok());
  CHECK(dry->changed);
  CHECK(imashim::os::read_file(file).value_or("") == kContainerd);  // --dry-run writes nothing

  auto r = setup_engine(s, file, false);
  REQUIRE(r.ok());
  CHECK(imashim::os::read_file(file).value_or("") == r->text);
  CHECK(imashim::os::read_file(dir / "etc/containerd/config.toml.imashim-backup").value_or("") == kContainerd);
  CHECK((fs::status(file).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  EngineConfig seen = read_containerd_config(file);
  CHECK(seen.ima_runtimes == std::vector<std::string>{"ima-runc"});
  CHECK(seen.ima_default);

  // A new podman drop-in directory is created; the node reader finds it.
  EngineSetup ps = setup_for(Engine::podman, true);
  ps.binary = bin.string();
  auto p = setup_engine(ps, dir / "etc/containers/containers.conf.d/50-imashim.conf", false);
  REQUIRE(p.ok());
  bool podman_default = false;
  for (const EngineConfig& e : read_engine_configs(dir))
    if (e.engine == "podman" && e.present) podman_default |= e.ima_default;
  CHECK(podman_default);

  s.binary = (dir / "missing").string();
  auto missing = setup_engine(s, file, false);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message(), Catch::Contains("ima-runc binary `" + s.binary + "`"));
  fs::remove_all(dir);
}

TEST_CASE("engine setup: non-ASCII text where the TOML parser cannot read it is refused by line", "[node][engine_setup]") {
  // Comments and strings may hold any character.
  std::string ok = "# Grüße aus dem Rechenzentrum\n[engine]\ncgroup_manager = \"cgroupfs\" # ü\nx = \"\"\"\n  ä \\\n  b\"\"\"\ny = 'ö'\n";
  CHECK(edit(setup_for(Engine::podman), ok).find("ima-runc = [") != std::string::npos);
  CHECK_THAT(error_of(setup_for(Engine::podman), "[engine]\nruntime\xc2\xa0= \"crun\"\n"),
             Catch::Contains("/etc/x/config:2: a non-ASCII character outside a string or comment"));
  CHECK_THAT(error_of(setup_for(Engine::podman), "[engine]\ns = \"\"\"\\\n\xc2\xa7\"\"\"\n"),
             Catch::Contains("/etc/x/config:3: a non-ASCII character right after a line-ending backslash"));
}
