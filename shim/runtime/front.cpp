#include "imashim/runtime/front.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "imashim/runtime/bundle.hpp"
#include "imashim/runtime/config.hpp"
#include "imashim/runtime/runc.hpp"
#include "imashim/runtime/runc_cli.hpp"

namespace imashim::runtime {
namespace {

namespace fs = std::filesystem;
using To = FrontRoute::To;

FrontRoute to_full() { return {}; }

// runc, if the node config names one that can be found; else the full
// implementation, which reports.
FrontRoute to_runc(const NodeConfig& node) {
  auto runc = find_real_runc(node);
  if (!runc) return to_full();
  return {To::runc, std::move(*runc)};
}

// create/run: runc when the container's mode is off, as prepare() decides it.
FrontRoute route_create(const RuncCommand& cmd, const NodeConfig& node) {
  auto id = cmd.container_id();
  if (!id || id->empty() || node.backend == BackendChoice::off) return to_runc(node);
  if (!validate_container_id(*id)) return to_full();
  auto bundle = load_bundle(cmd.flag("bundle").value_or("."));
  if (!bundle) return to_full();
  auto settings = container_settings(node, bundle->annotations);
  if (!settings || settings->mode != backends::Mode::off) return to_full();
  return to_runc(node);
}

// delete: runc when imashim has no state for the container.
FrontRoute route_delete(const RuncCommand& cmd, const NodeConfig& node) {
  auto id = cmd.container_id();
  if (!id || !validate_container_id(*id)) return to_full();
  std::error_code ec;
  if (fs::exists(node.state_root / *id, ec) || ec) return to_full();
  return to_runc(node);
}

}  // namespace

FrontRoute route_command(const std::vector<std::string>& argv) {
  auto cmd = parse_runc_command(argv);
  if (!cmd) return to_full();
  auto node = load_node_config();
  if (!node) return to_full();
  switch (cmd->role()) {
    case CommandRole::create:
    case CommandRole::run: return route_create(*cmd, *node);
    case CommandRole::remove: return route_delete(*cmd, *node);
    case CommandRole::pass_through: break;
  }
  return to_runc(*node);
}

int ima_runc_front_main(std::vector<std::string> argv) {
  auto route = route_command(argv);
  if (route.to == To::runc) {
    auto e = exec_runc(route.runc, argv);
    std::fprintf(stderr, "ima-runc: %s\n", e.message().c_str());
    return 127;
  }
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  auto full = self.parent_path() / kFullImplementation;
  ::setenv(kFrontEnv, self.c_str(), 1);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  ::execv(full.c_str(), args.data());
  auto message = fmt::format("cannot run {}: {}", full.string(), std::strerror(errno));
  if (auto cmd = parse_runc_command(argv))
    report_error(*cmd, message);
  else
    std::fprintf(stderr, "ima-runc: %s\n", message.c_str());
  return 1;
}

}  // namespace imashim::runtime
