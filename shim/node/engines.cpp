// Engine config readers: TOML through TomlText (a real parser), JSON through nlohmann.
#include "imashim/node/engines.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "imashim/node/facts.hpp"
#include "imashim/os/file.hpp"
#include "toml_text.hpp"

namespace imashim::node {
namespace {

bool names_ima_runc(std::string_view path) {
  std::string_view base = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  return base == "ima-runc";
}

// The file's text, or nothing: absent (`present` false) or unreadable (`error` set).
std::optional<std::string> read_text(EngineConfig& cfg) {
  std::error_code ec;
  if (!std::filesystem::exists(cfg.file, ec)) return std::nullopt;
  cfg.present = true;
  auto text = os::read_file(cfg.file);
  if (!text) {
    cfg.error = text.error().message();
    return std::nullopt;
  }
  return std::move(*text);
}

// The file parsed as TOML, or the config with `error` set.
std::optional<nlohmann::json> read_toml(EngineConfig& cfg) {
  auto text = read_text(cfg);
  if (!text) return std::nullopt;
  auto doc = TomlText::parse(std::move(*text), cfg.file.string());
  if (!doc) {
    cfg.error = doc.error().message();
    return std::nullopt;
  }
  return doc->json();
}

// containerd: every `runtimes` table (of any CRI plugin and config version)
// whose entries have options.BinaryName naming ima-runc; the default is the
// sibling `default_runtime_name`.
void find_containerd_runtimes(const nlohmann::json& j, EngineConfig& cfg) {
  if (!j.is_object()) return;
  if (auto rts = j.find("runtimes"); rts != j.end() && rts->is_object()) {
    std::string def = j.value("default_runtime_name", "");
    for (auto& [name, rt] : rts->items()) {
      const nlohmann::json* bin = rt.is_object() && rt.contains("options") && rt["options"].is_object() &&
                                          rt["options"].contains("BinaryName")
                                      ? &rt["options"]["BinaryName"]
                                      : nullptr;
      if (!bin || !bin->is_string() || !names_ima_runc(bin->get<std::string>())) continue;
      cfg.ima_runtimes.push_back(name);
      cfg.ima_default |= name == def;
    }
  }
  for (auto& [key, sub] : j.items())
    if (key != "runtimes") find_containerd_runtimes(sub, cfg);
}

}  // namespace

EngineConfig read_containerd_config(const std::filesystem::path& file) {
  EngineConfig cfg{"containerd", file, false, "", {}, false};
  if (auto j = read_toml(cfg)) find_containerd_runtimes(*j, cfg);
  return cfg;
}

EngineConfig read_docker_config(const std::filesystem::path& file) {
  EngineConfig cfg{"docker", file, false, "", {}, false};
  auto text = read_text(cfg);
  if (!text) return cfg;
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    cfg.error = file.string() + ": not a JSON object";
    return cfg;
  }
  if (auto rt = j.find("runtimes"); rt != j.end() && rt->is_object()) {
    for (auto& [name, spec] : rt->items()) {
      if (spec.is_object() && spec.contains("path") && spec["path"].is_string() &&
          names_ima_runc(spec["path"].get<std::string>()))
        cfg.ima_runtimes.push_back(name);
    }
  }
  std::string def = j.value("default-runtime", std::string("runc"));
  for (const auto& name : cfg.ima_runtimes) cfg.ima_default |= name == def;
  return cfg;
}

EngineConfig read_containers_conf(const std::filesystem::path& file) {
  EngineConfig cfg{"podman", file, false, "", {}, false};
  auto j = read_toml(cfg);
  if (!j || !j->contains("engine") || !(*j)["engine"].is_object()) return cfg;
  const nlohmann::json& engine = (*j)["engine"];
  std::string default_name = engine.contains("runtime") && engine["runtime"].is_string() ? engine["runtime"].get<std::string>() : "";
  if (auto rts = engine.find("runtimes"); rts != engine.end() && rts->is_object())
    for (auto& [name, paths] : rts->items())
      if (paths.is_array() && std::any_of(paths.begin(), paths.end(), [](const nlohmann::json& p) {
            return p.is_string() && names_ima_runc(p.get<std::string>());
          }))
        cfg.ima_runtimes.push_back(name);
  cfg.ima_default = names_ima_runc(default_name);
  for (const auto& name : cfg.ima_runtimes) cfg.ima_default |= name == default_name;
  return cfg;
}

std::vector<EngineConfig> read_engine_configs(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  const NodeRoot under(root.empty() ? fs::path("/") : root);
  std::vector<EngineConfig> out = {read_containerd_config(under("/etc/containerd/config.toml")),
                                   read_docker_config(under("/etc/docker/daemon.json")),
                                   read_containers_conf(under("/etc/containers/containers.conf"))};
  // podman reads drop-ins after containers.conf, in name order.
  std::vector<fs::path> dropins;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(under("/etc/containers/containers.conf.d"), ec))
    if (e.path().extension() == ".conf") dropins.push_back(e.path());
  std::sort(dropins.begin(), dropins.end());
  for (const fs::path& p : dropins) out.push_back(read_containers_conf(p));
  return out;
}

}  // namespace imashim::node
