// The node config (/etc/imashim/config.json, or the file IMASHIM_CONFIG names)
// and the per-container settings derived from it and the container's
// annotations. Annotations may tighten what the node sets, never loosen it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/backends/backend.hpp"
#include "imashim/formats/hash.hpp"
#include "imashim/util/result.hpp"

namespace imashim::runtime {

inline constexpr std::string_view kDefaultConfigPath = "/etc/imashim/config.json";
inline constexpr std::string_view kConfigPathEnv = "IMASHIM_CONFIG";

// Which backend the node uses. `auto_` picks the best the kernel offers;
// `off` disables imashim on the node: ima-runc only execs runc.
enum class BackendChoice { auto_, ns_mount, ns_user, host, fanotify, off };
std::string_view backend_choice_name(BackendChoice choice);  // "auto", "ns-mount", ...
std::optional<BackendChoice> backend_choice_from_name(std::string_view name);
// The backend kind for a fixed choice; nullopt for auto and off.
std::optional<backends::Kind> backend_kind(BackendChoice choice);

// Strictness order used by annotations: enforce > log > measure > off.
int mode_rank(backends::Mode mode);
backends::Mode stricter_mode(backends::Mode a, backends::Mode b);

// What to do when the TPM cannot be reached: refuse the container (require)
// or run it with only the per-container log (prefer).
enum class TpmOnFailure { require, prefer };

struct TpmConfig {
  std::string tcti;                       // e.g. "swtpm:host=127.0.0.1,port=2321", "device:/dev/tpmrm0"
  unsigned pcr = 23;                      // PCR extended with the containers' log anchors
  TpmOnFailure on_failure = TpmOnFailure::prefer;
  std::uint64_t anchor_every_events = 64;   // anchor after this many new log entries (0: never by count)
  std::uint64_t anchor_every_seconds = 10;  // and at least this often while entries are pending (0: never by time)
};

struct NodeConfig {
  BackendChoice backend = BackendChoice::auto_;
  backends::Mode mode = backends::Mode::measure;
  formats::HashAlgo hash_algo = formats::HashAlgo::sha256;
  std::string profile = "default";          // policy profile name (policy module)
  std::filesystem::path runc_path;          // empty: the first runc in PATH that is not ima-runc
  std::optional<TpmConfig> tpm;             // absent: no TPM anchoring
  std::filesystem::path state_root = "/run/imashim";
  std::filesystem::path log_root = "/var/lib/imashim/containers";
  std::filesystem::path layer_cache_root = "/var/lib/imashim/layers";
  std::filesystem::path source;             // the file read; empty when defaults were used

  nlohmann::json to_json() const;
};

// Parses a node config document. Unknown keys, wrong types and bad values are
// errors naming the key ("config.json: key \"mode\": ...").
Result<NodeConfig> parse_node_config(std::string_view text, std::string_view source_name);
// The path to read: $IMASHIM_CONFIG if set and non-empty, else /etc/imashim/config.json.
std::filesystem::path node_config_path();
// Reads node_config_path(); the defaults when the file does not exist (and
// IMASHIM_CONFIG was not set: a named file that is missing is an error).
Result<NodeConfig> load_node_config();

// Container annotations imashim reads.
inline constexpr std::string_view kAnnotationMode = "org.imashim.mode";
inline constexpr std::string_view kAnnotationProfile = "org.imashim.profile";
inline constexpr std::string_view kAnnotationPolicy = "org.imashim.policy";
inline constexpr std::string_view kAnnotationEnable = "org.imashim.enable";

using Annotations = std::map<std::string, std::string>;

// What one container gets: the node config tightened by its annotations.
struct ContainerSettings {
  backends::Mode mode = backends::Mode::measure;
  std::string profile;                    // the node's profile (always applied first)
  std::optional<std::string> extra_profile;  // org.imashim.profile: appended, its dont_* rules dropped
  std::string extra_policy;               // org.imashim.policy: rules appended, dont_* rules refused
  std::vector<std::string> notes;         // annotations that asked to loosen and were ignored
};

// Applies annotations to the node config. A mode annotation looser than the
// node's is ignored (noted); a bad value or a loosening policy rule is an error
// naming the annotation.
Result<ContainerSettings> container_settings(const NodeConfig& node, const Annotations& annotations);


}  // namespace imashim::runtime
