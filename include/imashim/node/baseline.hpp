// Baselines and drift: which files a measurement log says were measured, with
// which digests, saved as JSON; and what changed since (the CIS guide's "read
// and compare the measurement logs" step, for cron jobs and CI).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::node {

// Where a log comes from: --log FILE, --container ID
// (<log_root>/<id>/binary_runtime_measurements), or else the kernel's own log.
struct LogSource {
  std::optional<std::filesystem::path> file;
  std::string container;
};
Result<std::filesystem::path> log_path(const LogSource& source, const std::filesystem::path& log_root);

// Path → every digest the log holds for it ("sha256:<hex>"; "sha1:<hex>" for
// the `ima` template). A file measured again after a change has two digests.
struct LogFiles {
  std::map<std::string, std::set<std::string>> files;
  std::size_t entries = 0;     // entries with a file digest, boot_aggregate included
  std::set<std::string> violations;  // paths of violation entries (zero digest)
};
// Reads a binary measurement log (the kernel's or a container's).
Result<LogFiles> files_of_log(ByteView binary_log);
Result<LogFiles> files_of_log_file(const std::filesystem::path& binary_log);

struct Baseline {
  std::string source;  // the log it was made from
  std::map<std::string, std::set<std::string>> files;

  nlohmann::json to_json() const;
  static Result<Baseline> from_json(const nlohmann::json& j, std::string_view name);
};
Baseline make_baseline(const LogFiles& log, std::string source);
// Writes the baseline (temp file + rename: never a half-written baseline).
Result<void> write_baseline(const Baseline& b, const std::filesystem::path& file);
Result<Baseline> read_baseline(const std::filesystem::path& file);

enum class DriftKind { changed, added, missing };
std::string_view drift_kind_name(DriftKind kind);  // "changed", "new", "missing"

struct DriftItem {
  std::string path;
  DriftKind kind = DriftKind::changed;
  std::set<std::string> baseline;  // digests in the baseline
  std::set<std::string> current;   // digests in the log
  bool watched = false;            // one of the watched files (CIS Kubernetes worker node)
};

struct DriftReport {
  std::string baseline_source;
  std::string log_source;
  std::vector<DriftItem> items;                 // sorted by path
  std::vector<std::string> watched_unmeasured;  // watched files the log never measured
  bool drifted() const { return !items.empty(); }
  // Drift among the watched files only.
  bool watched_drifted() const;
  nlohmann::json to_json() const;
  std::string to_text() const;
};

// `changed`: measured with a digest the baseline does not have for it;
// `new`: not in the baseline; `missing`: in the baseline, not in the log.
DriftReport compute_drift(const Baseline& baseline, const LogFiles& log,
                          const std::vector<std::string>& watched);

}  // namespace imashim::node
