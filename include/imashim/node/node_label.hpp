// imactl node label: the host's filesystems labelled for a profile (the CIS
// guide's `find / -fstype ext4 -type f -uid 0 -exec dd ...` step), one
// filesystem at a time, with the labeller of the label module.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "imashim/label/labeller.hpp"
#include "imashim/node/node_policy.hpp"

namespace imashim::node {

struct FilesystemLabel {
  LabelTarget target;
  std::optional<label::LabelReport> report;  // when labelled (or checked)
  std::string error;                         // the walk could not start
};

// Labels (or, with options.mode == check, checks) each filesystem the plan
// marks, in plan order; the walk never leaves the filesystem (mount points are
// not crossed). `root` maps the node's paths (tests label a fixture tree).
// `on_start` is told before each filesystem.
std::vector<FilesystemLabel> label_node(const std::vector<LabelTarget>& plan, const NodeRoot& root,
                                        const label::LabelOptions& options,
                                        const std::function<void(const LabelTarget&)>& on_start = {});

}  // namespace imashim::node
