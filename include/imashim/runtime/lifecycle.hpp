// The IMA steps around a container's life, shared by ima-runc and
// ima-oci-hook: prepare (bundle, layers, labels, policy, backend) before the
// container exists, attach once its init exists, finalize after it is gone.
//
// The three steps that other modules provide (labelling, policy generation,
// backend construction) are seams in a Pipeline, so the lifecycle can be
// tested with recorded steps and so each module plugs in when it is built.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/backends/backend.hpp"
#include "imashim/runtime/bundle.hpp"
#include "imashim/runtime/config.hpp"
#include "imashim/util/result.hpp"

namespace imashim::runtime {

struct LabelRequest {
  const NodeConfig& node;
  const Bundle& bundle;
  const Layers& layers;
  backends::Mode mode;
};
struct LabelResult {
  std::vector<std::filesystem::path> manifests;  // reference digests, one per labelled layer
  nlohmann::json summary = nlohmann::json::object();  // what was labelled / found in the cache
};

struct PolicyRequest {
  const NodeConfig& node;
  const Bundle& bundle;
  const Layers& layers;
  const ContainerSettings& settings;
  const LabelResult& labels;
};

struct Pipeline {
  std::function<Result<LabelResult>(const LabelRequest&)> label;
  std::function<Result<std::string>(const PolicyRequest&)> policy;
  // The backend the node config asks for (auto: the best this kernel offers).
  std::function<Result<std::unique_ptr<backends::Backend>>(const NodeConfig&, std::optional<backends::Kind>)> backend;
};
// The pipeline built from the modules in this build (shim/runtime/integrations.cpp).
Pipeline default_pipeline();

// Everything known before the container exists.
struct Prepared {
  NodeConfig node;
  std::string id;
  Bundle bundle;
  Layers layers;
  ContainerSettings settings;
  LabelResult labels;
  std::string policy;
  std::unique_ptr<backends::Backend> backend;
};

// What a container's state dir holds (<state_root>/<id>/state.json).
struct ContainerState {
  std::string id;
  std::filesystem::path bundle;
  std::filesystem::path rootfs;
  Layers layers;                    // the rootfs's image layers when it was created
  pid_t pid = -1;
  backends::Mode mode = backends::Mode::measure;
  backends::Attachment attachment;
  backends::AttachRequest request;  // policy_text is kept in <log_dir>/policy, not here
  std::string created;              // RFC3339
  std::vector<std::string> notes;

  nlohmann::json to_json() const;
  static Result<ContainerState> from_json(const nlohmann::json& j);
};

std::filesystem::path state_dir(const NodeConfig& node, std::string_view id);
std::filesystem::path log_dir(const NodeConfig& node, std::string_view id);
Result<ContainerState> read_state(const NodeConfig& node, std::string_view id);

// Decides the container's mode from the node config and the bundle's
// annotations. nullopt: imashim does nothing for this container (mode off).
Result<std::optional<Prepared>> prepare(const NodeConfig& node, std::string id,
                                        const std::filesystem::path& bundle_dir, const Pipeline& pipeline);
// prepare() in two steps, so that the second can run while `runc create` does
// (no image code runs before `start`, and attach comes after both):
// begin_prepare loads the bundle, the settings, the layers and the backend
// (what fails before any container exists); finish_prepare labels the layers
// and derives the policy.
Result<std::optional<Prepared>> begin_prepare(const NodeConfig& node, std::string id,
                                              const std::filesystem::path& bundle_dir, const Pipeline& pipeline);
Result<void> finish_prepare(Prepared& prepared, const Pipeline& pipeline);

// While `runc create` runs: what the backend can start before the container
// has an init (Backend::prestart; the fanotify monitor's process).
void prestart(Prepared& p);

// Attaches the backend to the container whose init is `init_pid`, records the
// state and the policy. On failure nothing of imashim's is left (state dir and
// the new log dir removed); the caller removes the container.
Result<ContainerState> attach(Prepared& prepared, pid_t init_pid);

// The container's record (container.json) written and synced to a temp file
// ahead of finalize, while `runc delete` runs; returns the temp file's path.
// The caller removes it when it does not finalize.
Result<std::filesystem::path> stage_record(const NodeConfig& node, std::string_view id);

// Detaches the backend, writes <log_dir>/container.json, removes the state
// dir. The log dir is kept. Missing state: nothing to do. `staged`: the
// record from stage_record; without it, it is written while the backend detaches.
Result<void> finalize(const NodeConfig& node, std::string_view id, const Pipeline& pipeline,
                      std::optional<std::filesystem::path> staged = std::nullopt);

}  // namespace imashim::runtime
