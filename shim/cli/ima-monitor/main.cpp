// ima-monitor: the fanotify backend's per-container monitor (`run`, started by
// the backend), and a small front end to attach/detach it by hand and to
// replay recorded events through the decision engine.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <fstream>
#include <iostream>
#include <iterator>

#include "imashim/backends/fanotify.hpp"
#include "imashim/backends/fanotify_engine.hpp"

namespace {

using namespace imashim;
using namespace imashim::backends;

int error(const std::string& message) {
  std::cerr << "ima-monitor: " << message << "\n";
  return 2;
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail_errno("open `" + path + "`");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Started ahead of attach (--go-fd): wait for the word, then log to the
// container's monitor.log (fanotify::stderr_log). End of file instead: the attach was abandoned,
// and nothing has been touched.
bool wait_for_go(int go_fd) {
  char buf[8];
  ssize_t n;
  do n = ::read(go_fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  ::close(go_fd);
  return n > 0;
}

void log_stderr_to(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return;
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
}

int run(const std::string& config_path, int ready_fd, int go_fd) {
  if (go_fd >= 0) {
    fanotify::warm_up();
    if (!wait_for_go(go_fd)) return 0;
  }
  auto text = read_text(config_path);
  if (!text) return error(text.error().message());
  auto j = nlohmann::json::parse(*text, nullptr, false);
  auto config = fanotify::MonitorConfig::from_json(j);
  if (!config) return error(config_path + ": " + config.error().message());
  if (go_fd >= 0) log_stderr_to(fanotify::stderr_log(config->state_dir, config->log_dir));
  return fanotify::run_monitor(*config, ready_fd);
}

struct AttachArgs {
  AttachRequest req;
  std::string policy_file, mode = "measure", algo = "sha256", state_file, record;
  std::vector<std::string> manifests, keys;
  bool no_ignore = false;
};

int attach(AttachArgs& a) {
  auto policy = read_text(a.policy_file);
  if (!policy) return error(policy.error().message());
  a.req.policy_text = *policy;
  auto mode = mode_from_name(a.mode);
  if (!mode) return error("unknown mode " + a.mode);
  a.req.mode = *mode;
  auto algo = formats::hash_algo_from_name(a.algo);
  if (!algo) return error("unknown hash algorithm " + a.algo);
  a.req.hash_algo = *algo;
  for (const auto& m : a.manifests) a.req.manifests.emplace_back(m);
  FanotifyOptions o;
  for (const auto& k : a.keys) o.keys.emplace_back(k);
  o.ignore_marks = !a.no_ignore;
  o.record_events = a.record;
  auto backend = make_fanotify_backend(o);
  auto att = backend->attach(a.req);
  if (!att) return error(att.error().message());
  nlohmann::json j = att->to_json();
  if (!a.state_file.empty()) std::ofstream(a.state_file) << j.dump() << "\n";
  std::cout << j.dump() << "\n";
  return 0;
}

int detach(const std::string& state_file, const std::string& log_dir) {
  auto text = read_text(state_file);
  if (!text) return error(text.error().message());
  auto att = Attachment::from_json(nlohmann::json::parse(*text, nullptr, false));
  if (!att) return error(att.error().message());
  AttachRequest req;
  req.log_dir = log_dir;
  auto r = make_fanotify_backend()->detach(*att, req);
  return r ? 0 : error(r.error().message());
}

int replay(const std::string& events, const std::string& config_path) {
  auto text = read_text(config_path);
  if (!text) return error(text.error().message());
  auto config = fanotify::MonitorConfig::from_json(nlohmann::json::parse(*text, nullptr, false));
  if (!config) return error(config.error().message());
  auto recorded = fanotify::read_recorded_events(events);
  if (!recorded) return error(recorded.error().message());
  auto policy = fanotify::make_policy_view(config->policy_text);
  if (!policy) return error(policy.error().message());
  auto sink = fanotify::open_log_sink(config->log_dir, config->template_name);
  if (!sink) return error(sink.error().message());
  auto rec = fanotify::open_recorder(config->log_dir, false);
  if (!rec) return error(rec.error().message());
  fanotify::Engine engine({config->container_id, config->mode, config->hash_algo, config->template_name},
                          std::move(*policy), std::move(*sink), std::move(*rec), nullptr, nullptr);
  auto verdicts = fanotify::replay(engine, *recorded);
  for (std::size_t i = 0; i < verdicts.size(); ++i)
    std::cout << (*recorded)[i].event.path << " " << (verdicts[i].allow ? "allow" : "deny") << " "
              << (verdicts[i].cause.empty() ? "-" : verdicts[i].cause) << "\n";
  return engine.flush() ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ima-monitor: per-container IMA measurement and appraisal with fanotify"};
  app.require_subcommand(1);
  std::string config, state_file, log_dir, events;
  int ready_fd = -1, go_fd = -1;
  auto* run_cmd = app.add_subcommand("run", "Run a monitor (started by the fanotify backend)");
  run_cmd->add_option("--config", config, "monitor.json")->required();
  run_cmd->add_option("--ready-fd", ready_fd, "fd for the ready report");
  run_cmd->add_option("--go-fd", go_fd, "started ahead of attach: wait for a line on this fd before reading --config");
  AttachArgs a;
  auto* att = app.add_subcommand("attach", "Attach a monitor to a created container (as ima-runc create does)");
  att->add_option("--id", a.req.container_id, "container id")->required();
  att->add_option("--pid", a.req.init_pid, "the container's init pid")->required();
  att->add_option("--policy", a.policy_file, "policy file (kernel grammar)")->required();
  att->add_option("--mode", a.mode, "measure | log | enforce");
  att->add_option("--hash", a.algo, "measurement hash algorithm");
  att->add_option("--template", a.req.template_name, "template (ima-ng, ima-sig, ...)");
  att->add_option("--log-dir", a.req.log_dir, "log directory (absolute)")->required();
  att->add_option("--state-dir", a.req.state_dir, "state directory");
  att->add_option("--manifest", a.manifests, "layer manifest (reference digests)");
  att->add_option("--key", a.keys, "public key or certificate for v2 signatures");
  att->add_option("--state-file", a.state_file, "write the attachment JSON here");
  att->add_flag("--no-ignore-marks", a.no_ignore, "never set ignore marks");
  att->add_option("--record", a.record, "also append every event seen to this file (replayable)");
  auto* det = app.add_subcommand("detach", "Stop a monitor and finalize its log");
  det->add_option("--state-file", state_file, "attachment JSON from attach")->required();
  det->add_option("--log-dir", log_dir, "log directory");
  auto* rep = app.add_subcommand("replay", "Feed recorded events through the decision engine");
  rep->add_option("--events", events, "recorded events (JSON lines)")->required();
  rep->add_option("--config", config, "monitor.json (policy, mode, log_dir)")->required();
  CLI11_PARSE(app, argc, argv);
  if (*run_cmd) return run(config, ready_fd, go_fd);
  if (*att) return attach(a);
  if (*det) return detach(state_file, log_dir);
  return replay(events, config);
}
