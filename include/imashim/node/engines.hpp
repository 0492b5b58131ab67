// Which container engines on a node are set to run containers with ima-runc,
// read (never written) from their config files: containerd's config.toml,
// docker's daemon.json, and containers.conf for podman/CRI-O.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace imashim::node {

struct EngineConfig {
  std::string engine;               // "containerd", "docker", "podman"
  std::filesystem::path file;       // the config file read
  bool present = false;             // the file exists
  std::string error;                // the file could not be read or parsed
  std::vector<std::string> ima_runtimes;  // runtime names whose binary is ima-runc
  bool ima_default = false;         // ima-runc is the engine's default runtime
};

// containerd: a `[...runtimes.<name>.options]` table with `BinaryName` naming
// ima-runc; default when `default_runtime_name` is that name.
EngineConfig read_containerd_config(const std::filesystem::path& file);
// docker: `runtimes.<name>.path` naming ima-runc; default via `default-runtime`.
EngineConfig read_docker_config(const std::filesystem::path& file);
// containers.conf: `[engine.runtimes] <name> = ["/path/ima-runc"]`, default
// via `[engine] runtime = "<name>"` (or a path to ima-runc).
EngineConfig read_containers_conf(const std::filesystem::path& file);

// The files a node's engines read, under `root` ("/" for this node):
// containerd's config.toml, docker's daemon.json, containers.conf and its
// drop-ins in containers.conf.d in the order podman reads them.
std::vector<EngineConfig> read_engine_configs(const std::filesystem::path& root);

}  // namespace imashim::node
