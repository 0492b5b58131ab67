// How the monitor's configuration becomes an engine. Apart from config.cpp,
// which ima-runc-full links for the backend's attach: the engine's recorder
// brings libaudit, which only the monitor needs.
#include "monitor_internal.hpp"

namespace imashim::backends::fanotify {

Result<std::unique_ptr<Engine>> make_engine(const MonitorConfig& c) {
  IMASHIM_TRY(auto policy, make_policy_view(c.policy_text));
  IMASHIM_TRY(auto sink, open_log_sink(c.log_dir, c.template_name));
  IMASHIM_TRY(auto recorder, open_recorder(c.log_dir, c.kernel_audit));
  IMASHIM_TRY(auto refs, load_manifests(c.manifests));
  IMASHIM_TRY(auto keys, load_keys(c.keys));
  EngineConfig ec{c.container_id, c.mode, c.hash_algo, c.template_name};
  return std::make_unique<Engine>(ec, std::move(policy), std::move(sink), std::move(recorder), std::move(refs),
                                  std::move(keys));
}

}  // namespace imashim::backends::fanotify
