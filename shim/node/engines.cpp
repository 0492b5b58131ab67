// Engine config readers. The TOML files are read with a small line reader
// that understands what these files use for runtimes: table headers with
// quoted segments, `key = "string"` and `key = ["array", "of strings"]`.
#include "imashim/node/engines.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace imashim::node {
namespace {

bool names_ima_runc(std::string_view path) {
  std::string_view base = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  return base == "ima-runc";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// `a."b.c".d` → {a, b.c, d}
std::vector<std::string> split_key(std::string_view key) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : key) {
    if (c == '"') { quoted = !quoted; continue; }
    if (c == '.' && !quoted) { out.push_back(std::string(trim(cur))); cur.clear(); continue; }
    cur += c;
  }
  out.push_back(std::string(trim(cur)));
  return out;
}

// Every quoted string of a value: `"x"` → {x}; `["a", "b"]` → {a, b}.
std::vector<std::string> strings_of(std::string_view value) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char q = value[i];
    if (q != '"' && q != '\'') continue;
    std::size_t end = value.find(q, i + 1);
    if (end == std::string_view::npos) break;
    out.emplace_back(value.substr(i + 1, end - i - 1));
    i = end;
  }
  return out;
}

struct TomlEntry {
  std::vector<std::string> table;
  std::string key;
  std::vector<std::string> strings;
};

std::vector<TomlEntry> read_toml(std::istream& in) {
  std::vector<TomlEntry> out;
  std::vector<std::string> table;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view l = trim(line);
    if (l.empty() || l.front() == '#') continue;
    if (l.front() == '[') {
      std::size_t end = l.rfind(']');
      std::string_view inner = l.substr(1, end == std::string_view::npos ? l.size() - 1 : end - 1);
      while (!inner.empty() && inner.front() == '[') inner.remove_prefix(1);
      table = split_key(inner);
      continue;
    }
    std::size_t eq = l.find('=');
    if (eq == std::string_view::npos) continue;
    std::string value(trim(l.substr(eq + 1)));
    // A multi-line array runs to its closing bracket.
    for (std::string more; value.starts_with('[') && value.find(']') == std::string::npos &&
                           std::getline(in, more);)
      value += " " + more;
    out.push_back({table, std::string(trim(l.substr(0, eq))), strings_of(value)});
  }
  return out;
}

EngineConfig open_config(std::string engine, const std::filesystem::path& file, std::ifstream& in) {
  EngineConfig cfg{std::move(engine), file, false, "", {}, false};
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return cfg;
  cfg.present = true;
  in.open(file);
  if (!in) cfg.error = "cannot open " + file.string();
  return cfg;
}

}  // namespace

EngineConfig read_containerd_config(const std::filesystem::path& file) {
  std::ifstream in;
  EngineConfig cfg = open_config("containerd", file, in);
  if (!in.is_open()) return cfg;
  std::string default_name;
  for (const TomlEntry& e : read_toml(in)) {
    if (e.key == "default_runtime_name" && !e.strings.empty()) default_name = e.strings.front();
    if (e.key != "BinaryName" || e.strings.empty() || !names_ima_runc(e.strings.front())) continue;
    // ...runtimes.<name>.options
    for (std::size_t i = 0; i + 1 < e.table.size(); ++i)
      if (e.table[i] == "runtimes") cfg.ima_runtimes.push_back(e.table[i + 1]);
  }
  for (const auto& name : cfg.ima_runtimes) cfg.ima_default |= name == default_name;
  return cfg;
}

EngineConfig read_docker_config(const std::filesystem::path& file) {
  std::ifstream in;
  EngineConfig cfg = open_config("docker", file, in);
  if (!in.is_open()) return cfg;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
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
  std::ifstream in;
  EngineConfig cfg = open_config("podman", file, in);
  if (!in.is_open()) return cfg;
  std::string default_name;
  for (const TomlEntry& e : read_toml(in)) {
    bool engine_table = e.table.size() == 1 && e.table[0] == "engine";
    if (engine_table && e.key == "runtime" && !e.strings.empty()) default_name = e.strings.front();
    bool runtimes_table = e.table.size() == 2 && e.table[0] == "engine" && e.table[1] == "runtimes";
    if (!runtimes_table) continue;
    for (const auto& path : e.strings)
      if (names_ima_runc(path)) { cfg.ima_runtimes.push_back(e.key); break; }
  }
  cfg.ima_default = names_ima_runc(default_name);
  for (const auto& name : cfg.ima_runtimes) cfg.ima_default |= name == default_name;
  return cfg;
}

}  // namespace imashim::node
