// One interface for every way imashim can measure and appraise a container:
// the kernel's IMA namespace interfaces (ns-mount, ns-user), mainline host IMA,
// and the userspace fanotify monitor. The runtime attaches a backend after
// `runc create` (the container's init exists, blocked before image code runs)
// and detaches it after `runc delete`.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/formats/hash.hpp"
#include "imashim/util/result.hpp"

namespace imashim::backends {

enum class Kind { ns_mount, ns_user, host, fanotify };
std::string_view kind_name(Kind kind);  // "ns-mount", "ns-user", "host", "fanotify"
std::optional<Kind> kind_from_name(std::string_view name);

// What happens when a file fails appraisal.
enum class Mode {
  off,      // imashim does nothing (ima-runc execs runc)
  measure,  // measure and record; never appraise, never refuse
  log,      // appraise and record the verdict; allow
  enforce,  // appraise; refuse what fails
};
std::string_view mode_name(Mode mode);
std::optional<Mode> mode_from_name(std::string_view name);

// What a backend can do on this node.
struct Capabilities {
  bool per_container_policy = false;  // the container gets its own policy
  bool per_container_log = false;     // the container gets its own measurement log
  bool enforce = false;               // appraisal failures can be refused
};

// Everything a backend needs to attach to one container.
struct AttachRequest {
  std::string container_id;
  pid_t init_pid = -1;                 // the container's init, from runc's pid file
  std::string policy_text;             // the container's policy, kernel grammar, one rule per line
  Mode mode = Mode::measure;
  formats::HashAlgo hash_algo = formats::HashAlgo::sha256;
  std::string template_name = "ima-ng";
  std::filesystem::path log_dir;       // /var/lib/imashim/containers/<id>: logs, pcrs, events
  std::filesystem::path state_dir;     // /run/imashim/<id>: live state
  std::vector<std::filesystem::path> manifests;  // layer manifests: reference digests
};

// What attach() leaves behind, persisted in the state dir so that a later
// `ima-runc delete` (another process) can detach.
struct Attachment {
  Kind kind = Kind::fanotify;
  std::string nsid;         // ns-mount / ns-user: the namespace id registered
  pid_t monitor_pid = -1;   // fanotify: the monitor process
  nlohmann::json extra;     // backend-specific details

  nlohmann::json to_json() const;
  static Result<Attachment> from_json(const nlohmann::json& j);
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Kind kind() const = 0;
  virtual Capabilities capabilities() const = 0;
  // Optional work ahead of attach(), while the container is being created
  // and has no init yet: `request` names the container, its log and state
  // dirs, mode and hash, nothing else, and neither dir may be touched yet.
  // The fanotify backend starts its monitor here. Best effort: a failure
  // leaves attach() to do everything; without a later attach() the work is
  // undone when the backend is destroyed.
  virtual void prestart(const AttachRequest& request) { (void)request; }
  // Starts measuring (and, per mode, appraising) the container. Returns only
  // when the container is covered: no image code may run unmeasured.
  virtual Result<Attachment> attach(const AttachRequest& request) = 0;
  // Stops and finalizes the container's log in request.log_dir. Idempotent.
  virtual Result<void> detach(const Attachment& attachment, const AttachRequest& request) = 0;
};

}  // namespace imashim::backends
