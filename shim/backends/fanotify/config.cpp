// The monitor's configuration (monitor.json).
#include <unistd.h>

#include "monitor_internal.hpp"

namespace imashim::backends::fanotify {
namespace {

std::vector<std::string> to_strings(const std::vector<std::filesystem::path>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) out.push_back(p.string());
  return out;
}

std::vector<std::filesystem::path> to_paths(const nlohmann::json& j) {
  std::vector<std::filesystem::path> out;
  if (j.is_array())
    for (const auto& s : j) out.emplace_back(s.get<std::string>());
  return out;
}

}  // namespace

nlohmann::json MonitorConfig::to_json() const {
  return {{"container_id", container_id},
          {"init_pid", init_pid},
          {"policy", policy_text},
          {"mode", mode_name(mode)},
          {"hash_algo", formats::hash_algo_name(hash_algo)},
          {"template", template_name},
          {"log_dir", log_dir.string()},
          {"state_dir", state_dir.string()},
          {"manifests", to_strings(manifests)},
          {"keys", to_strings(keys)},
          {"ignore_marks", ignore_marks},
          {"kernel_audit", kernel_audit},
          {"workers", workers},
          {"guardian", guardian},
          {"record_events", record_events.string()}};
}

Result<MonitorConfig> MonitorConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return fail("monitor config: not a JSON object");
  try {
    MonitorConfig c;
    c.container_id = j.at("container_id").get<std::string>();
    c.init_pid = j.at("init_pid").get<pid_t>();
    c.policy_text = j.value("policy", std::string());
    auto mode = mode_from_name(j.value("mode", std::string("measure")));
    if (!mode || *mode == Mode::off) return fail("monitor config: mode must be measure, log or enforce");
    c.mode = *mode;
    auto algo = formats::hash_algo_from_name(j.value("hash_algo", std::string("sha256")));
    if (!algo || !formats::evp_md(*algo)) return fail("monitor config: unsupported hash_algo");
    c.hash_algo = *algo;
    c.template_name = j.value("template", std::string("ima-ng"));
    c.log_dir = j.at("log_dir").get<std::string>();
    c.state_dir = j.value("state_dir", std::string());
    c.manifests = to_paths(j.value("manifests", nlohmann::json::array()));
    c.keys = to_paths(j.value("keys", nlohmann::json::array()));
    c.ignore_marks = j.value("ignore_marks", true);
    c.kernel_audit = j.value("kernel_audit", true);
    c.workers = j.value("workers", 2u);
    c.guardian = j.value("guardian", true);
    c.record_events = j.value("record_events", std::string());
    if (c.init_pid <= 0) return fail("monitor config: init_pid must be a process id");
    if (c.log_dir.empty() || !c.log_dir.is_absolute()) return fail("monitor config: log_dir must be an absolute path");
    if (c.workers == 0 || c.workers > 64) return fail("monitor config: workers must be 1..64");
    return c;
  } catch (const nlohmann::json::exception& e) {
    return fail(std::string("monitor config: ") + e.what());
  }
}

MonitorConfig MonitorConfig::from_request(const AttachRequest& r, const FanotifyOptions& o) {
  MonitorConfig c;
  c.container_id = r.container_id;
  c.init_pid = r.init_pid;
  c.policy_text = r.policy_text;
  c.mode = r.mode;
  c.hash_algo = r.hash_algo;
  c.template_name = r.template_name.empty() ? "ima-ng" : r.template_name;
  c.log_dir = r.log_dir;
  c.state_dir = r.state_dir;
  c.manifests = r.manifests;
  c.keys = o.keys;
  c.ignore_marks = o.ignore_marks;
  c.kernel_audit = o.kernel_audit;
  c.workers = o.workers;
  c.record_events = o.record_events;
  return c;
}

}  // namespace imashim::backends::fanotify
