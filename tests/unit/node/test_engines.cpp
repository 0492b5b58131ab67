#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "imashim/node/engines.hpp"

using namespace imashim::node;
namespace fs = std::filesystem;

namespace {
fs::path write_temp(const std::string& name, const std::string& text) {
  fs::path dir = fs::temp_directory_path() / "imashim-unit-engines";
  fs::create_directories(dir);
  std::ofstream(dir / name) << text;
  return dir / name;
}
}  // namespace

TEST_CASE("containerd: a runtime whose BinaryName is ima-runc, and the default", "[node][engines]") {
  auto p = write_temp("config.toml", R"(version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "ima"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = "/usr/sbin/runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima.options]
  BinaryName = "/usr/local/bin/ima-runc"
)");
  EngineConfig e = read_containerd_config(p);
  CHECK(e.present);
  CHECK(e.ima_runtimes == std::vector<std::string>{"ima"});
  CHECK(e.ima_default);
}

TEST_CASE("docker: runtimes with an ima-runc path; bad JSON is reported", "[node][engines]") {
  EngineConfig e = read_docker_config(write_temp("daemon.json", R"({"runtimes":{"ima":{"path":"/opt/bin/ima-runc"}}})"));
  CHECK(e.ima_runtimes == std::vector<std::string>{"ima"});
  CHECK_FALSE(e.ima_default);
  EngineConfig bad = read_docker_config(write_temp("bad.json", "{"));
  CHECK(bad.error.find("not a JSON object") != std::string::npos);
  EngineConfig none = read_docker_config("/nonexistent/daemon.json");
  CHECK_FALSE(none.present);
  CHECK(none.error.empty());
}

TEST_CASE("containers.conf: multi-line runtime arrays", "[node][engines]") {
  EngineConfig e = read_containers_conf(IMASHIM_FIXTURES "/node/no-ima/etc/containers/containers.conf");
  CHECK(e.ima_runtimes == std::vector<std::string>{"ima"});
  CHECK(e.ima_default);
}

TEST_CASE("the engine snippets the project ships are recognised", "[node][engines]") {
  const std::string pkg = IMASHIM_SOURCE_DIR "/packaging";
  EngineConfig c = read_containerd_config(pkg + "/containerd/config.toml");
  CHECK(c.ima_runtimes == std::vector<std::string>{"ima-runc"});
  CHECK_FALSE(c.ima_default);  // the snippet leaves the default commented out
  EngineConfig d = read_docker_config(pkg + "/docker/daemon.json");
  CHECK(d.ima_runtimes == std::vector<std::string>{"ima-runc"});
  CHECK(d.ima_default);
  EngineConfig p = read_containers_conf(pkg + "/podman/containers.conf");
  CHECK(p.ima_runtimes == std::vector<std::string>{"ima-runc"});
  CHECK(p.ima_default);
}
