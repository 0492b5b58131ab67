// imactl baseline create [--log FILE | --container ID] -o FILE: the files a
// measurement log holds and their digests, as a JSON baseline for `imactl drift`.
#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "imashim/node/baseline.hpp"
#include "imashim/runtime/config.hpp"

namespace imashim::imactl {

void add_baseline_command(CLI::App& app, Action& action) {
  struct Opts {
    std::string log;
    std::string container;
    std::string output;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("baseline", "Record the measured files and their digests as a baseline");
  cmd->require_subcommand(1);
  auto* create = cmd->add_subcommand("create", "Create a baseline from a measurement log");
  auto* log = create->add_option("--log", opts->log, "Binary measurement log (default: the kernel's)");
  create->add_option("--container", opts->container, "A container's log under the node config's log_root")
      ->excludes(log);
  create->add_option("-o,--output", opts->output, "Baseline file to write (JSON)")->required();
  create->callback([opts, &action] {
    action = [opts] {
      auto node = runtime::load_node_config();
      if (!node) return report_error(node.error().message());
      node::LogSource src;
      if (!opts->log.empty()) src.file = opts->log;
      src.container = opts->container;
      auto path = node::log_path(src, node->log_root);
      if (!path) return report_error("baseline: " + path.error().message());
      auto files = node::files_of_log_file(*path);
      if (!files) return report_error("baseline: " + files.error().message());
      node::Baseline b = node::make_baseline(*files, opts->container.empty() ? path->string() : "container " + opts->container);
      if (auto w = node::write_baseline(b, opts->output); !w) return report_error("baseline: " + w.error().message());
      std::cout << fmt::format("{}: {} files from {} entries of {}\n", opts->output, b.files.size(), files->entries,
                               path->string());
      return kExitOk;
    };
  });
}

}  // namespace imashim::imactl
