// Engine setup: one edit per engine, each a few settings in the engine's own
// file format. containerd and podman files are edited as text (TomlText), so
// the operator's file stays theirs; daemon.json keeps its key order.
#include "imashim/node/engine_setup.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "imashim/os/file.hpp"
#include "toml_text.hpp"

namespace imashim::node {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kRuncShim = "io.containerd.runc.v2";

bool valid_runtime_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

bool blank(std::string_view text) { return text.find_first_not_of(" \t\r\n") == std::string_view::npos; }

std::string string_at(const TomlText& doc, const TomlPath& path) {
  const nlohmann::json* v = doc.find(path);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

Error conflict(const std::string& file, const std::string& what, const std::string& name) {
  return Error(fmt::format("{} already has a runtime `{}` with {}; choose another name with --runtime-name, "
                           "or replace it with --force",
                           file, name, what));
}

// The CRI plugin that owns runtimes, by containerd config version.
Result<std::string> cri_plugin(std::int64_t version, const std::string& name) {
  switch (version) {
    case 1: return std::string("cri");
    case 2: return std::string("io.containerd.grpc.v1.cri");
    case 3: return std::string("io.containerd.cri.v1.runtime");
    default: return fail(fmt::format("{}: config version {} is not one containerd knows (1, 2 or 3)", name, version));
  }
}

Result<EngineEdit> edit_containerd(const EngineSetup& s, std::string_view current, const std::string& name) {
  EngineEdit out;
  IMASHIM_TRY(TomlText doc, TomlText::parse(std::string(current), name));
  std::int64_t version = 1;  // containerd reads a file without `version` as version 1
  if (const auto* v = doc.find({"version"}); v && v->is_number_integer()) {
    version = v->get<std::int64_t>();
  } else if (v) {
    return fail(name + ": `version` is not an integer");
  } else if (blank(current)) {
    IMASHIM_TRY(bool changed, doc.set({}, "version", std::int64_t{2}));
    version = 2;
    if (changed) out.changes.push_back("new file, config version 2");
  }
  IMASHIM_TRY(std::string plugin, cri_plugin(version, name));
  const TomlPath base{"plugins", plugin, "containerd"};
  const TomlPath runtime{"plugins", plugin, "containerd", "runtimes", s.runtime_name};
  TomlPath options = runtime;
  options.emplace_back("options");

  const std::string type = string_at(doc, {"plugins", plugin, "containerd", "runtimes", s.runtime_name, "runtime_type"});
  const std::string bin =
      string_at(doc, {"plugins", plugin, "containerd", "runtimes", s.runtime_name, "options", "BinaryName"});
  if (!s.force && !type.empty() && type != kRuncShim) return fail(conflict(name, "runtime_type " + type, s.runtime_name));
  if (!s.force && !bin.empty() && bin != s.binary) return fail(conflict(name, "BinaryName " + bin, s.runtime_name));

  IMASHIM_TRY(bool t, doc.set(runtime, "runtime_type", std::string(kRuncShim)));
  IMASHIM_TRY(bool b, doc.set(options, "BinaryName", s.binary));
  if (t || b) out.changes.push_back(fmt::format("runtime `{}`: {} with BinaryName {}", s.runtime_name, kRuncShim, s.binary));
  if (s.make_default) {
    std::string before = string_at(doc, {"plugins", plugin, "containerd", "default_runtime_name"});
    IMASHIM_TRY(bool d, doc.set(base, "default_runtime_name", s.runtime_name));
    if (d) out.changes.push_back(fmt::format("default_runtime_name: {} → {}", before.empty() ? "(unset: runc)" : before,
                                             s.runtime_name));
  }

  if (const auto* disabled = doc.find({"disabled_plugins"}); disabled && disabled->is_array())
    for (const auto& p : *disabled)
      if (p.is_string() && (p == plugin || p == "io.containerd.grpc.v1.cri" || p == "cri"))
        out.notes.push_back(fmt::format("the CRI plugin is disabled in {} (disabled_plugins): Kubernetes gets the "
                                        "runtime once it is enabled; ctr takes --runc-binary {}",
                                        name, s.binary));
  out.notes.push_back(fmt::format("restart containerd to load it (systemctl restart containerd); Kubernetes: a "
                                  "RuntimeClass with handler `{}`; ctr: ctr run --runc-binary {}",
                                  s.runtime_name, s.binary));
  out.text = doc.text();
  return out;
}

Result<EngineEdit> edit_docker(const EngineSetup& s, std::string_view current, const std::string& name) {
  EngineEdit out;
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!blank(current)) {
    try {
      j = nlohmann::ordered_json::parse(current);
    } catch (const nlohmann::json::parse_error& e) {
      return fail(fmt::format("{}: not valid JSON ({})", name, e.what()));
    }
    if (!j.is_object()) return fail(name + ": not a JSON object");
  }
  if (j.contains("runtimes") && !j["runtimes"].is_object()) return fail(name + ": `runtimes` is not an object");
  auto& runtimes = j["runtimes"];
  if (runtimes.is_null()) runtimes = nlohmann::ordered_json::object();
  if (runtimes.contains(s.runtime_name) && !s.force) {
    const auto& rt = runtimes[s.runtime_name];
    std::string path = rt.is_object() && rt.contains("path") && rt["path"].is_string() ? rt["path"].get<std::string>() : "";
    if (path != s.binary)
      return fail(conflict(name, path.empty() ? "no `path` (a shim runtime)" : "path " + path, s.runtime_name));
  }
  const auto& rt = runtimes.contains(s.runtime_name) ? runtimes[s.runtime_name] : nlohmann::ordered_json();
  if (!(rt.is_object() && rt.value("path", "") == s.binary)) {
    runtimes[s.runtime_name] = nlohmann::ordered_json{{"path", s.binary}};
    out.changes.push_back(fmt::format("runtime `{}`: path {}", s.runtime_name, s.binary));
  }
  if (s.make_default && j.value("default-runtime", "") != s.runtime_name) {
    std::string before = j.value("default-runtime", "");
    j["default-runtime"] = s.runtime_name;
    out.changes.push_back(fmt::format("default-runtime: {} → {}", before.empty() ? "(unset: runc)" : before, s.runtime_name));
  }
  out.notes.push_back(fmt::format("dockerd reads runtimes again on SIGHUP (systemctl reload docker) or at restart; "
                                  "then docker run --runtime {}",
                                  s.runtime_name));
  out.text = out.changes.empty() ? std::string(current) : j.dump(2) + "\n";
  return out;
}

Result<EngineEdit> edit_podman(const EngineSetup& s, std::string_view current, const std::string& name) {
  EngineEdit out;
  IMASHIM_TRY(TomlText doc, TomlText::parse(std::string(current), name));
  if (const auto* paths = doc.find({"engine", "runtimes", s.runtime_name}); paths && !s.force) {
    bool ours = paths->is_array() && !paths->empty() && (*paths)[0] == s.binary;
    if (!ours) return fail(conflict(name, "paths " + paths->dump(), s.runtime_name));
  }
  if (s.make_default) {
    std::string before = string_at(doc, {"engine", "runtime"});
    IMASHIM_TRY(bool d, doc.set({"engine"}, "runtime", s.runtime_name));
    if (d) out.changes.push_back(fmt::format("engine.runtime: {} → {}", before.empty() ? "(unset: crun or runc)" : before,
                                             s.runtime_name));
  }
  IMASHIM_TRY(bool r, doc.set({"engine", "runtimes"}, s.runtime_name, std::vector<std::string>{s.binary}));
  if (r) out.changes.push_back(fmt::format("runtime `{}`: {}", s.runtime_name, s.binary));
  out.notes.push_back(fmt::format("podman reads it at its next command: podman run --runtime {}", s.runtime_name));
  out.text = doc.text();
  return out;
}

}  // namespace

std::optional<Engine> engine_from_name(std::string_view name) {
  if (name == "containerd") return Engine::containerd;
  if (name == "docker") return Engine::docker;
  if (name == "podman") return Engine::podman;
  return std::nullopt;
}

std::string_view engine_name(Engine engine) {
  switch (engine) {
    case Engine::containerd: return "containerd";
    case Engine::docker: return "docker";
    case Engine::podman: return "podman";
  }
  return "?";
}

fs::path default_engine_config(Engine engine) {
  switch (engine) {
    case Engine::containerd: return "/etc/containerd/config.toml";
    case Engine::docker: return "/etc/docker/daemon.json";
    case Engine::podman: return "/etc/containers/containers.conf.d/50-imashim.conf";
  }
  return {};
}

Result<EngineEdit> edit_engine_config(const EngineSetup& s, std::string_view current, const std::string& name) {
  if (!valid_runtime_name(s.runtime_name))
    return fail(fmt::format("runtime name `{}`: use letters, digits, `_`, `-` and `.` (at most 64)", s.runtime_name));
  if (s.binary.empty() || s.binary.front() != '/')
    return fail(fmt::format("binary `{}`: the engine needs an absolute path", s.binary));
  Result<EngineEdit> edit = fail("unknown engine");
  switch (s.engine) {
    case Engine::containerd: edit = edit_containerd(s, current, name); break;
    case Engine::docker: edit = edit_docker(s, current, name); break;
    case Engine::podman: edit = edit_podman(s, current, name); break;
  }
  if (edit) edit->changed = edit->text != current;
  return edit;
}

Result<EngineEdit> setup_engine(const EngineSetup& s, const fs::path& file, bool dry_run) {
  struct stat st {};
  if (::stat(s.binary.c_str(), &st) != 0) return fail_errno("ima-runc binary `" + s.binary + "`");
  if (!S_ISREG(st.st_mode) || ::access(s.binary.c_str(), X_OK) != 0)
    return fail(fmt::format("ima-runc binary `{}`: not an executable file", s.binary));

  std::error_code ec;
  fs::path target = file;
  if (fs::is_symlink(fs::symlink_status(file, ec))) {
    target = fs::canonical(file, ec);
    if (ec) return fail(fmt::format("{}: a symlink whose target cannot be resolved ({})", file.string(), ec.message()));
  }
  std::string current;
  mode_t mode = 0644;
  const bool exists = fs::exists(target, ec);
  if (exists) {
    IMASHIM_TRY(current, os::read_file(target));
    if (::stat(target.c_str(), &st) == 0) mode = st.st_mode & 07777;
  }
  IMASHIM_TRY(EngineEdit edit, edit_engine_config(s, current, target.string()));
  if (!edit.changed || dry_run) return edit;

  if (!target.parent_path().empty()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) return fail(fmt::format("create `{}`: {}", target.parent_path().string(), ec.message()));
  }
  if (exists) {
    fs::path backup = target;
    backup += ".imashim-backup";
    IMASHIM_TRY_VOID(os::write_file_atomic(backup, current, mode));
    edit.notes.insert(edit.notes.begin(), "the previous file is " + backup.string());
  }
  IMASHIM_TRY_VOID(os::write_file_atomic(target, edit.text, mode));
  return edit;
}

}  // namespace imashim::node
