// The Pipeline made of the modules this build has. Each step names the module
// that provides it; a step whose module is not built fails with a message
// saying so, never with an invented result.
#include <fmt/format.h>

#include "imashim/backends/select.hpp"
#include "imashim/runtime/lifecycle.hpp"

namespace imashim::runtime {
namespace {

Result<LabelResult> label_layers(const LabelRequest& req) {
  // Until the labeller is built in, layers stay as they are. Measurement does
  // not need labels; appraisal does, so log and enforce refuse to start.
  if (req.mode == backends::Mode::measure) {
    LabelResult r;
    r.summary = {{"labelled", false}, {"reason", "no labeller in this build"}};
    return r;
  }
  return fail(fmt::format("mode {} appraises files against their labels, and this build has no labeller",
                          backends::mode_name(req.mode)));
}

Result<std::string> derive_policy(const PolicyRequest& req) {
  return fail(fmt::format("profile \"{}\": no policy generator in this build", req.settings.profile));
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
