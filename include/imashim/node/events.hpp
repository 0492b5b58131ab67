// imactl events: what happened to files, per container. Two sources:
//  - the fanotify monitor's decisions, <log_root>/<id>/events.jsonl (one JSON
//    object a line: time, container, event, hook, action, path, pid, uid,
//    euid, mode, decision, cause, measured, digest);
//  - the kernel's integrity audit records in an audit log (auditd's
//    /var/log/audit/audit.log, or kernel log lines "audit: type=1800 ..."):
//    INTEGRITY_DATA 1800, METADATA 1801, STATUS 1802, HASH 1803, PCR 1804,
//    RULE 1805, EVM_XATTR 1806, POLICY_RULE 1807; and the monitor's own
//    records (TRUSTED_APP 1121 with container=).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/util/result.hpp"

namespace imashim::node {

// The kernel's integrity audit record types (include/uapi/linux/audit.h).
struct AuditType {
  int number;
  std::string_view name;
};
std::optional<AuditType> integrity_audit_type(std::string_view name_or_number);

struct IntegrityEvent {
  std::string source;     // "monitor" or "audit"
  std::string time;       // RFC3339 (monitor) or the audit timestamp "secs.ms:serial"
  std::string type;       // "INTEGRITY_DATA", ...; the monitor's event kind ("exec", "open")
  std::string container;  // "" when not known
  std::string path;       // name= / path
  std::string op;         // audit op= ("appraise_data", "measure", ...); monitor action
  std::string cause;      // cause= / monitor cause
  std::string result;     // res= ("0"/"1") or the monitor's decision ("allow"/"deny")
  std::optional<pid_t> pid;
  std::map<std::string, std::string> fields;  // every key=value of the record

  nlohmann::json to_json() const;
};

// One audit line → an event if it is an integrity record (or a monitor record);
// nullopt for other records. Hex-encoded values (name=2F746D70...) are decoded.
std::optional<IntegrityEvent> parse_audit_line(std::string_view line);
// One events.jsonl line; an error names what is wrong.
Result<IntegrityEvent> parse_monitor_line(std::string_view line);

// What identifies a container in kernel records.
struct ContainerRef {
  std::string id;
  std::filesystem::path rootfs;  // host path of its root: names under it are its files
  std::optional<pid_t> pid;      // its init
  std::string log_dir;
};
// Containers known under log_root (every <id>/ with container.json or events.jsonl)
// and state_root (<id>/state.json of live containers).
std::vector<ContainerRef> known_containers(const std::filesystem::path& log_root,
                                           const std::filesystem::path& state_root);
// Sets event.container from the refs where the record names one of their files or pids.
void attribute(IntegrityEvent& event, const std::vector<ContainerRef>& containers);

struct EventQuery {
  std::filesystem::path log_root;      // <log_root>/<id>/events.jsonl
  std::filesystem::path state_root;
  std::optional<std::filesystem::path> audit_log;  // nullopt: no kernel records
  std::string container;               // "" = every container (and host records)
};
struct EventList {
  std::vector<IntegrityEvent> events;
  std::vector<std::string> warnings;   // unreadable sources, bad lines (with file:line)
};
// Reads both sources; filters to `container` when set. A missing audit log is a
// warning; an unknown container (no log dir) is an error.
Result<EventList> read_events(const EventQuery& query);

}  // namespace imashim::node
