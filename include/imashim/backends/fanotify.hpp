// The fanotify backend: per-container measurement and appraisal on kernels
// without IMA namespaces. attach() starts one monitor process per container
// (the `ima-monitor` executable installed next to ima-runc) that answers the
// container's fanotify permission events with the container's own policy, and
// writes its measurement log in the kernel's formats. See docs/fanotify.md.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/backends/backend.hpp"
#include "imashim/util/result.hpp"

namespace imashim::backends {

// Node-level settings of the backend (the per-container ones come in the AttachRequest).
struct FanotifyOptions {
  // The monitor executable; empty: `ima-monitor` next to /proc/self/exe, then
  // $IMASHIM_MONITOR.
  std::filesystem::path monitor_path;
  // Public keys (PEM or DER, RSA/EC) that verify v2 signatures in security.ima.
  std::vector<std::filesystem::path> keys;
  // Kernel-level cache: ignore marks on verified inodes (docs/fanotify.md says when it is not used).
  bool ignore_marks = true;
  // Audit records through the audit subsystem too (best effort; events.jsonl always).
  bool kernel_audit = true;
  // How long attach() waits for the monitor to report ready.
  std::chrono::milliseconds ready_timeout{10000};
  // Hashing workers per monitor.
  unsigned workers = 2;
  // Non-empty: each monitor also appends every event it sees here (replayable
  // with `ima-monitor replay`; for debugging a policy, not for production).
  std::filesystem::path record_events;
};

// The factory the runtime and backend selection call.
std::unique_ptr<Backend> make_fanotify_backend(FanotifyOptions options = {});

namespace fanotify {

// Everything one monitor needs; written by attach() to <state_dir>/monitor.json.
struct MonitorConfig {
  std::string container_id;
  pid_t init_pid = -1;
  std::string policy_text;
  Mode mode = Mode::measure;
  formats::HashAlgo hash_algo = formats::HashAlgo::sha256;
  std::string template_name = "ima-ng";
  std::filesystem::path log_dir;
  std::filesystem::path state_dir;
  std::vector<std::filesystem::path> manifests;
  std::vector<std::filesystem::path> keys;
  bool ignore_marks = true;
  bool kernel_audit = true;
  unsigned workers = 2;
  bool guardian = true;                // start the fail-closed guardian
  std::filesystem::path record_events; // non-empty: also write every event seen (replayable)

  nlohmann::json to_json() const;
  static Result<MonitorConfig> from_json(const nlohmann::json& j);
  static MonitorConfig from_request(const AttachRequest& request, const FanotifyOptions& options);
};

// Where a monitor's stderr goes: monitor.log in its state dir (tmpfs on a node,
// so that create makes no file on the log disk for a log that is almost always
// empty), appended to the log dir's monitor.log when the monitor exits, or by
// detach for one that died, if anything was written (keep_stderr_log).
std::filesystem::path stderr_log(const std::filesystem::path& state_dir, const std::filesystem::path& log_dir);
void keep_stderr_log(const std::filesystem::path& state_dir, const std::filesystem::path& log_dir);

// Runs a monitor in this process until the container's init exits or SIGTERM.
// Writes "ready <pid>\n" (or "error <message>\n") to `ready_fd` once the mark is
// in place and closes it. Returns the process exit code.
int run_monitor(const MonitorConfig& config, int ready_fd);

// What a monitor started ahead of attach does while it waits: OpenSSL's
// configuration and the digests every log needs (sha1 and sha256 banks), the
// heap its threads will share, grown and mapped, its exit's sync threads and
// its seccomp filter, built (loaded only once it is set up).
void warm_up();

// Where attach() looks for the monitor executable.
Result<std::filesystem::path> find_monitor(const FanotifyOptions& options);

}  // namespace fanotify
}  // namespace imashim::backends
