#include "imashim/runtime/ima_runc.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "imashim/runtime/runc.hpp"

namespace imashim::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The arguments after argv[0], for a child runc.
std::vector<std::string> args_of(const RuncCommand& cmd) { return {cmd.argv.begin() + 1, cmd.argv.end()}; }

std::vector<std::string> follow_up(const RuncCommand& cmd, std::initializer_list<std::string> rest) {
  auto args = cmd.global_args();
  args.insert(args.end(), rest);
  return args;
}

// Reports and returns 1 (imashim's error exit code).
int report(const RuncCommand& cmd, std::string_view what, const Error& e) {
  report_error(cmd, fmt::format("{}: {}", what, e.message()));
  return 1;
}

// Execs runc with the command's argv; returns only if that fails.
int exec_or_report(const RuncCommand& cmd, const fs::path& runc) {
  report(cmd, "runc", exec_runc(runc, cmd.argv));
  return 127;
}

// Passes the command to runc. The runc path comes from the node config; a
// broken config must not stop kill/delete/state of running containers, so it
// is reported and runc is looked up in PATH.
int pass_through(const RuncCommand& cmd) {
  auto node = load_node_config();
  if (!node) {
    std::fprintf(stderr, "ima-runc: warning: %s (looking for runc in PATH)\n", node.error().message().c_str());
    node = NodeConfig{};
  }
  auto runc = find_real_runc(*node);
  if (!runc) return report(cmd, "runc", runc.error());
  return exec_or_report(cmd, *runc);
}

Result<pid_t> read_pid_file(const fs::path& p) {
  std::ifstream in(p);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return fail(fmt::format("pid file {}: no pid", p.string()));
  return static_cast<pid_t>(pid);
}

// The container's init: from the pid file runc wrote, else `runc state`.
Result<pid_t> init_pid(const fs::path& runc, const RuncCommand& cmd, const std::string& id) {
  if (auto pf = cmd.flag("pid-file"); pf && !pf->empty()) return read_pid_file(*pf);
  IMASHIM_TRY(auto c, run_runc_captured(runc, follow_up(cmd, {"state", id})));
  auto j = json::parse(c.out, nullptr, false);
  if (c.status != 0 || j.is_discarded() || !j.contains("pid"))
    return fail(fmt::format("runc state {}: {}", id, c.err.empty() ? "no pid" : c.err));
  return j["pid"].get<pid_t>();
}

void force_delete(const fs::path& runc, const RuncCommand& cmd, const std::string& id) {
  (void)run_runc_captured(runc, follow_up(cmd, {"delete", "--force", id}));
}

// Loads what create and run need; on error reports it and returns the exit code.
struct Setup {
  NodeConfig node;
  fs::path runc;
  std::string id;
};
std::optional<int> setup(const RuncCommand& cmd, Setup& s) {
  auto node = load_node_config();
  if (!node) return report(cmd, "config", node.error());
  s.node = std::move(*node);
  auto runc = find_real_runc(s.node);
  if (!runc) return report(cmd, "runc", runc.error());
  s.runc = std::move(*runc);
  s.id = cmd.container_id().value_or("");
  return std::nullopt;
}

// After `runc create` succeeded: find the init and attach. On failure the
// container is removed again.
int attach_created(const RuncCommand& cmd, const Setup& s, Prepared& prepared, pid_t* out_pid = nullptr) {
  auto pid = init_pid(s.runc, cmd, s.id);
  if (!pid) {
    force_delete(s.runc, cmd, s.id);
    return report(cmd, fmt::format("create {}", s.id), pid.error());
  }
  auto state = attach(prepared, *pid);
  if (!state) {
    force_delete(s.runc, cmd, s.id);
    return report(cmd, fmt::format("create {}", s.id), state.error());
  }
  for (const auto& note : state->notes) std::fprintf(stderr, "ima-runc: note: %s\n", note.c_str());
  if (out_pid) *out_pid = *pid;
  return 0;
}

// The command left to runc alone: the runc the front end started waited
// for, or runc exec'd.
int wait_started(const RuncCommand& cmd, pid_t started) {
  auto status = wait_runc(started);
  return status ? *status : report(cmd, "runc", status.error());
}
int runc_alone(const RuncCommand& cmd, const fs::path& runc, std::optional<pid_t> started) {
  return started ? wait_started(cmd, *started) : exec_or_report(cmd, runc);
}
int runc_alone_or_pass_through(const RuncCommand& cmd, std::optional<pid_t> started) {
  return started ? wait_started(cmd, *started) : pass_through(cmd);
}

// A create that fails before it attaches, with runc already started by the
// front end: the container runc creates is removed again.
void discard_started(const RuncCommand& cmd, const fs::path& runc, std::optional<pid_t> started) {
  if (!started) return;
  auto status = wait_runc(*started);
  if (status && *status == 0) force_delete(runc, cmd, cmd.container_id().value_or(""));
}

int cmd_create(const RuncCommand& cmd, const Pipeline& pipeline, std::optional<pid_t> started) {
  Setup s;
  if (auto rc = setup(cmd, s)) {
    // Reported. The front end read the same config and found a runc: a node
    // whose config or runc changed meanwhile, runc looked up as with no config.
    discard_started(cmd, find_real_runc(NodeConfig{}).value_or("runc"), started);
    return *rc;
  }
  if (s.id.empty()) return runc_alone(cmd, s.runc, started);
  auto prepared = begin_prepare(s.node, s.id, cmd.flag("bundle").value_or("."), pipeline);
  if (!prepared) {
    discard_started(cmd, s.runc, started);
    return report(cmd, fmt::format("create {}", s.id), prepared.error());
  }
  if (!*prepared) return runc_alone(cmd, s.runc, started);
  auto pid = started ? Result<pid_t>(*started) : spawn_runc(s.runc, args_of(cmd));
  if (!pid) return report(cmd, fmt::format("create {}", s.id), pid.error());
  // The backend's start, the layers' labels and the policy while runc creates
  // the container: no image code runs before `start`, and the backend attaches
  // with them below, before create returns.
  prestart(**prepared);
  auto finished = finish_prepare(**prepared, pipeline);
  auto status = wait_runc(*pid);
  if (!status) return report(cmd, fmt::format("create {}", s.id), status.error());
  if (*status != 0) return *status;
  if (!finished) {
    force_delete(s.runc, cmd, s.id);
    return report(cmd, fmt::format("create {}", s.id), finished.error());
  }
  return attach_created(cmd, s, **prepared);
}

// `runc delete` then finalize. Without imashim state the container was never
// ours (mode off, or created by plain runc): runc alone handles it.
int cmd_delete(const RuncCommand& cmd, const Pipeline& pipeline, std::optional<pid_t> started) {
  auto id = cmd.container_id();
  auto node = load_node_config();
  std::error_code ec;
  if (!id || !validate_container_id(*id) || !node || !fs::exists(state_dir(*node, *id), ec))
    return runc_alone_or_pass_through(cmd, started);
  auto runc = find_real_runc(*node);
  if (!runc) {
    // The front end found one in the same config: waited for, the state left for a delete that finds it.
    if (started) (void)wait_runc(*started);
    return report(cmd, "runc", runc.error());
  }
  auto pid = started ? Result<pid_t>(*started) : spawn_runc(*runc, args_of(cmd));
  if (!pid) return report(cmd, fmt::format("delete {}", *id), pid.error());
  // While runc deletes the container: its record, written and synced ahead.
  auto staged = stage_record(*node, *id);
  auto drop_staged = [&] {
    if (staged) ::unlink(staged->c_str());
  };
  auto status = wait_runc(*pid);
  if (!status) {
    drop_staged();
    return report(cmd, fmt::format("delete {}", *id), status.error());
  }
  if (*status != 0) {
    // Finalize only when the container is really gone.
    auto st = run_runc_captured(*runc, follow_up(cmd, {"state", *id}));
    if (!st || st->status == 0) {
      drop_staged();
      return *status;
    }
  }
  std::optional<fs::path> record;
  if (staged) record = *staged;
  if (auto f = finalize(*node, *id, pipeline, record); !f)
    return report(cmd, fmt::format("delete {}", *id), f.error());
  return *status;
}

struct RunFlags {
  bool detach = false;
  bool keep = false;
  bool has_console_socket = false;
};

// `run`'s flags turned into `create`'s: run-only flags dropped.
std::vector<std::string> create_args(const RuncCommand& cmd, const std::string& console_socket) {
  auto args = cmd.global_args();
  args.push_back("create");
  for (const auto& f : cmd.flags) {
    if (f.name == "detach" || f.name == "keep" || f.name == "no-subreaper") continue;
    const FlagSpec* spec = find_flag(cmd.spec->flags, f.name);
    bool bool_true = (!spec || !spec->takes_value) && f.value == "true";
    args.push_back(bool_true ? "--" + f.name : "--" + f.name + "=" + f.value);
  }
  if (!console_socket.empty()) args.push_back("--console-socket=" + console_socket);
  args.push_back("--");
  args.insert(args.end(), cmd.positionals.begin(), cmd.positionals.end());
  return args;
}

bool wants_terminal(const Bundle& b) {
  const auto& c = b.config;
  return c.contains("process") && c["process"].is_object() && c["process"].value("terminal", false);
}

int finish_run(const RuncCommand& cmd, const Setup& s, const Pipeline& pipeline, bool keep, int code) {
  if (keep) return code;
  (void)run_runc(s.runc, follow_up(cmd, {"delete", "--force", s.id}));
  if (auto f = finalize(s.node, s.id, pipeline); !f) report(cmd, fmt::format("delete {}", s.id), f.error());
  return code;
}

int cmd_run(const RuncCommand& cmd, const Pipeline& pipeline) {
  Setup s;
  if (auto rc = setup(cmd, s)) return *rc;
  if (s.id.empty()) return exec_or_report(cmd, s.runc);
  auto prepared = prepare(s.node, s.id, cmd.flag("bundle").value_or("."), pipeline);
  if (!prepared) return report(cmd, fmt::format("run {}", s.id), prepared.error());
  if (!*prepared) return exec_or_report(cmd, s.runc);
  RunFlags rf{cmd.flag_set("detach"), cmd.flag_set("keep"), cmd.flag("console-socket").has_value()};
  bool own_console = wants_terminal((*prepared)->bundle) && !rf.has_console_socket;
  if (own_console && rf.detach)
    return report(cmd, fmt::format("run {}", s.id),
                  Error("cannot allocate tty if runc will detach without setting console socket"));
  if (!rf.detach) ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  std::optional<ConsoleSocket> console;
  if (own_console) {
    auto c = ConsoleSocket::listen();
    if (!c) return report(cmd, fmt::format("run {}", s.id), c.error());
    console.emplace(std::move(*c));
  }
  auto pid = spawn_runc(s.runc, create_args(cmd, console ? console->path() : ""));
  if (!pid) return report(cmd, fmt::format("run {}", s.id), pid.error());
  ForegroundOptions fg;
  if (console) {
    auto master = console->receive_master(*pid);
    if (master) {
      fg.proxy_console = true;
      fg.console_master = *master;
    }
  }
  auto status = wait_runc(*pid);
  if (!status) return report(cmd, fmt::format("run {}", s.id), status.error());
  if (*status != 0) return *status;
  pid_t ipid = -1;
  if (int rc = attach_created(cmd, s, **prepared, &ipid); rc != 0) return rc;
  auto started = run_runc(s.runc, follow_up(cmd, {"start", s.id}));
  if (!started || *started != 0) return finish_run(cmd, s, pipeline, false, started ? *started : 1);
  if (rf.detach) return 0;
  int code = wait_foreground(ipid, fg);
  return finish_run(cmd, s, pipeline, rf.keep, code);
}

}  // namespace

int ima_runc_main(std::vector<std::string> argv, const Pipeline& pipeline) {
  auto cmd = parse_runc_command(std::move(argv));
  if (!cmd) {
    std::fprintf(stderr, "ima-runc: %s\n", cmd.error().message().c_str());
    return 1;
  }
  auto started = take_started_runc();  // for create and delete only (front_core.hpp)
  switch (cmd->role()) {
    case CommandRole::create: return cmd_create(*cmd, pipeline, started);
    case CommandRole::remove: return cmd_delete(*cmd, pipeline, started);
    case CommandRole::run: return cmd_run(*cmd, pipeline);
    case CommandRole::pass_through: break;
  }
  return pass_through(*cmd);
}

}  // namespace imashim::runtime
