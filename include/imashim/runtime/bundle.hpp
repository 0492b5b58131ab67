// An OCI bundle as ima-runc sees it: its config.json, the rootfs it names,
// the annotations, and the image layers under the rootfs when it is an
// overlay mount (what containerd, docker and podman give runc).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/runtime/config.hpp"
#include "imashim/util/result.hpp"

namespace imashim::runtime {

struct Bundle {
  std::filesystem::path dir;      // absolute
  nlohmann::json config;          // config.json
  std::filesystem::path rootfs;   // absolute
  bool rootfs_readonly = false;
  Annotations annotations;
};

// Reads <dir>/config.json and resolves root.path. A relative root.path must
// stay inside the bundle (no `..` escaping it); an absolute one (podman's
// overlay `merged` dir) is taken as is. The rootfs must be a directory.
Result<Bundle> load_bundle(const std::filesystem::path& dir);
// Only the annotations (cheap path for mode decisions).
Result<Annotations> read_annotations(const nlohmann::json& config);

// The layers of a rootfs: lower dirs top first (as overlayfs lists them), the
// upper dir, or the rootfs itself when it is not an overlay mount.
struct Layers {
  bool overlay = false;
  std::vector<std::filesystem::path> lower;  // read-only image layers, top first
  std::filesystem::path upper;               // the container's writable layer
  std::filesystem::path rootfs;
};
// Finds the topmost mount at `rootfs` in /proc/self/mountinfo.
Result<Layers> find_layers(const std::filesystem::path& rootfs);
// Same from given mountinfo text (for tests).
Result<Layers> find_layers_in(std::string_view mountinfo, const std::filesystem::path& rootfs);

}  // namespace imashim::runtime
