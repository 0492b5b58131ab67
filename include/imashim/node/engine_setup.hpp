// Registers ima-runc as a runtime in a container engine's own config file:
// containerd's config.toml (the CRI plugin's runtimes, config versions 1-3),
// docker's daemon.json, podman's containers.conf (by default a drop-in of its
// own). Idempotent; the rest of the file (comments, order, other runtimes)
// is kept; a runtime of the same name that runs another binary is an error
// unless forced. The engine is not restarted: the result says how.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/util/result.hpp"

namespace imashim::node {

enum class Engine { containerd, docker, podman };

std::optional<Engine> engine_from_name(std::string_view name);
std::string_view engine_name(Engine engine);
// /etc/containerd/config.toml, /etc/docker/daemon.json,
// /etc/containers/containers.conf.d/50-imashim.conf.
std::filesystem::path default_engine_config(Engine engine);

struct EngineSetup {
  Engine engine = Engine::containerd;
  std::string runtime_name = "ima-runc";
  std::string binary;         // absolute path of ima-runc
  bool make_default = false;  // every container of the engine runs under ima-runc
  bool force = false;         // replace a runtime of that name that runs something else
};

struct EngineEdit {
  std::string text;                  // the config file after the edit
  bool changed = false;              // false: it already said all this
  std::vector<std::string> changes;  // one line per change made
  std::vector<std::string> notes;    // what the operator does next, what to watch
};

// The edit itself, on text: `current` is the file's content ("" for a new
// file), `name` names it in errors. No I/O.
Result<EngineEdit> edit_engine_config(const EngineSetup& setup, std::string_view current, const std::string& name);

// Reads `file` (a missing file is a new one), edits it and, unless `dry_run`,
// writes it atomically with its mode kept (a symlink's target is written), the
// previous content saved beside it as FILE.imashim-backup. Checks that the
// binary is an executable file.
Result<EngineEdit> setup_engine(const EngineSetup& setup, const std::filesystem::path& file, bool dry_run);

}  // namespace imashim::node
