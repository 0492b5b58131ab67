#include "imashim/node/node_label.hpp"

namespace imashim::node {

std::vector<FilesystemLabel> label_node(const std::vector<LabelTarget>& plan, const NodeRoot& root,
                                        const label::LabelOptions& options,
                                        const std::function<void(const LabelTarget&)>& on_start) {
  std::vector<FilesystemLabel> out;
  for (const LabelTarget& t : plan) {
    if (!t.label) continue;
    if (on_start) on_start(t);
    FilesystemLabel fl{t, std::nullopt, ""};
    auto report = label::label_tree(root(t.mount.target).string(), options);
    if (report) fl.report = std::move(*report);
    else fl.error = report.error().message();
    out.push_back(std::move(fl));
  }
  return out;
}

}  // namespace imashim::node
