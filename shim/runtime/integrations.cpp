// The Pipeline made of imashim's modules: label/ (layer labels and cache),
// policy/ (the image-derived generator), backends/select (the backend).
#include <fmt/format.h>

#include "imashim/backends/select.hpp"
#include "imashim/runtime/lifecycle.hpp"

#include "imashim/label/layer_cache.hpp"
#include "imashim/policy/generate.hpp"

namespace imashim::runtime {
namespace {

using nlohmann::json;

// label/: each image layer (overlay lower dir; a plain rootfs is its own layer)
// is labelled once and its manifest cached; a labelled file whose content
// changed is left alone (appraisal refuses it) and counted here.
Result<LabelResult> label_layers(const LabelRequest& req) {
  label::LayerCache cache(req.node.layer_cache_root.string());
  label::LabelOptions options;
  options.algo = req.node.hash_algo;
  std::vector<std::filesystem::path> dirs = req.layers.lower;
  if (!req.layers.overlay) dirs = {req.layers.rootfs};
  LabelResult out;
  json layers = json::array();
  for (const auto& dir : dirs) {
    auto r = label::label_layer(dir.string(), options, cache);
    if (!r) return std::move(r).with_context(fmt::format("layer {}", dir.string()));
    if (!r->manifest_path.empty()) out.manifests.emplace_back(r->manifest_path);
    layers.push_back({{"dir", dir.string()},
                      {"from_cache", r->from_cache},
                      {"labelled", r->report.labelled},
                      {"changed", r->report.changed},
                      {"failed", r->report.failed},
                      {"manifest", r->manifest_path}});
  }
  out.summary = {{"labelled", true}, {"layers", layers}};
  return out;
}

// What the generator reads from the runtime config: the process (user,
// command) and the mounts that are not image content.
policy::ImageConfig image_config_of(const json& config) {
  policy::ImageConfig ic;
  if (!config.contains("process") || !config["process"].is_object()) return ic;
  const auto& p = config["process"];
  if (p.contains("user") && p["user"].is_object())
    ic.user = fmt::format("{}:{}", p["user"].value("uid", 0u), p["user"].value("gid", 0u));
  if (p.contains("args") && p["args"].is_array())
    for (const auto& a : p["args"])
      if (a.is_string()) ic.cmd.push_back(a.get<std::string>());
  return ic;
}

std::vector<policy::Volume> volumes_of(const json& config) {
  std::vector<policy::Volume> out;
  if (!config.contains("mounts") || !config["mounts"].is_array()) return out;
  for (const auto& m : config["mounts"]) {
    if (!m.is_object() || m.value("type", std::string()) != "bind") continue;
    policy::Volume v;
    v.destination = m.value("destination", std::string());
    for (const auto& o : m.value("options", json::array()))
      if (o.is_string() && o.get<std::string>() == "ro") v.writable = false;
    out.push_back(std::move(v));
  }
  return out;
}

// The image's files: from the layer manifests when every layer has one (they
// were just written or found in the layer cache), else from a rootfs walk.
Result<std::vector<policy::ImageFile>> image_files(const PolicyRequest& req) {
  std::size_t layers = req.layers.overlay ? req.layers.lower.size() : 1;
  if (req.labels.manifests.empty() || req.labels.manifests.size() != layers)
    return policy::scan_rootfs(req.bundle.rootfs);
  std::vector<label::Manifest> manifests;
  for (const auto& path : req.labels.manifests) {
    IMASHIM_TRY(auto m, label::read_manifest(path.string()));
    manifests.push_back(std::move(m));
  }
  return policy::image_files_from_manifests(manifests);
}

Result<std::string> derive_policy(const PolicyRequest& req) {
  policy::GenerateInput in;
  IMASHIM_TRY(in.files, image_files(req));
  in.image = image_config_of(req.bundle.config);
  in.annotations = req.bundle.annotations;
  in.volumes = volumes_of(req.bundle.config);
  in.node.mode = policy::policy_mode_from_name(backends::mode_name(req.node.mode)).value_or(policy::PolicyMode::measure);
  in.node.hash = req.node.hash_algo;
  in.node.profile = req.node.profile;
  IMASHIM_TRY(auto generated, policy::generate_policy(in));
  return policy::to_string(generated.policy);
}

// backends/select: a fixed kind from the node config, or the first of
// ns-mount → ns-user → host → fanotify this kernel supports.
Result<std::unique_ptr<backends::Backend>> make_backend(const NodeConfig&, std::optional<backends::Kind> kind) {
  backends::Kind chosen = kind ? *kind : backends::detect_backend().kind;
  auto b = backends::make_backend(chosen);
  if (!b) return fail(fmt::format("{}{}: {}", kind ? "" : "auto: ", backends::kind_name(chosen), b.error().message()));
  return b;
}

}  // namespace

Pipeline default_pipeline() { return Pipeline{label_layers, derive_policy, make_backend}; }

}  // namespace imashim::runtime
