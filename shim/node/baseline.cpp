#include "imashim/node/baseline.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "imashim/formats/measurement_log.hpp"

namespace imashim::node {
namespace fs = std::filesystem;

namespace {

std::string digest_text(const formats::FileMeasurement& m) {
  // `d` carries no algorithm: sha1 by its size (md5 for 16 bytes).
  formats::HashAlgo algo = m.algo.value_or(m.digest.size() == 16 ? formats::HashAlgo::md5 : formats::HashAlgo::sha1);
  return fmt::format("{}:{}", formats::hash_algo_name(algo), to_hex(m.digest));
}

}  // namespace

Result<fs::path> log_path(const LogSource& source, const fs::path& log_root) {
  if (source.file && !source.container.empty()) return fail("give either a log file or a container, not both");
  if (source.file) return *source.file;
  if (source.container.empty()) return fs::path(formats::kKernelBinaryLog);
  if (source.container.find('/') != std::string::npos || source.container == "." || source.container == "..")
    return fail(fmt::format("container id `{}`: not a plain name", source.container));
  fs::path p = log_root / source.container / "binary_runtime_measurements";
  std::error_code ec;
  if (!fs::exists(p, ec))
    return fail(fmt::format("container `{}`: no measurement log at {}", source.container, p.string()));
  return p;
}

Result<LogFiles> files_of_log(ByteView binary_log) {
  LogFiles out;
  // Entries without a file digest (ima-buf: kexec-cmdline, keys, critical data) are not files.
  IMASHIM_TRY(std::vector<formats::FileMeasurement> entries, formats::list_file_measurements(binary_log));
  out.entries = entries.size();
  for (const formats::FileMeasurement& m : entries) {
    if (m.path == formats::kBootAggregateName) continue;
    if (m.violation) out.violations.insert(m.path);
    else out.files[m.path].insert(digest_text(m));
  }
  return out;
}

Result<LogFiles> files_of_log_file(const fs::path& binary_log) {
  IMASHIM_TRY(Bytes data, formats::read_whole_file(binary_log));
  auto files = files_of_log(data);
  if (!files) return std::move(files).with_context(binary_log.string());
  return files;
}

nlohmann::json Baseline::to_json() const {
  nlohmann::json f = nlohmann::json::object();
  for (const auto& [path, digests] : files) f[path] = digests;
  return {{"format", "imashim-baseline-1"}, {"source", source}, {"files", f}};
}

Result<Baseline> Baseline::from_json(const nlohmann::json& j, std::string_view name) {
  if (!j.is_object() || j.value("format", "") != "imashim-baseline-1")
    return fail(fmt::format("{}: not an imashim baseline (expected \"format\": \"imashim-baseline-1\")", name));
  Baseline b;
  b.source = j.value("source", "");
  auto files = j.find("files");
  if (files == j.end() || !files->is_object()) return fail(fmt::format("{}: \"files\" must be an object", name));
  for (const auto& [path, digests] : files->items()) {
    if (!digests.is_array()) return fail(fmt::format("{}: files[\"{}\"] must be an array of digests", name, path));
    for (const auto& d : digests) {
      if (!d.is_string() || d.get<std::string>().find(':') == std::string::npos)
        return fail(fmt::format("{}: files[\"{}\"]: a digest must be a string \"algo:hex\"", name, path));
      b.files[path].insert(d.get<std::string>());
    }
  }
  return b;
}

Baseline make_baseline(const LogFiles& log, std::string source) {
  return Baseline{std::move(source), log.files};
}

Result<void> write_baseline(const Baseline& b, const fs::path& file) {
  fs::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return fail_errno(fmt::format("create `{}`", tmp.string()));
    out << b.to_json().dump(2) << "\n";
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      return fail_errno(fmt::format("write `{}`", tmp.string()));
    }
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return fail(fmt::format("rename `{}` to `{}`: {}", tmp.string(), file.string(), ec.message()));
  }
  return {};
}

Result<Baseline> read_baseline(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return fail_errno(fmt::format("open `{}`", file.string()));
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return fail(fmt::format("{}: not valid JSON", file.string()));
  return Baseline::from_json(j, file.string());
}

std::string_view drift_kind_name(DriftKind kind) {
  switch (kind) {
    case DriftKind::changed: return "changed";
    case DriftKind::added: return "new";
    case DriftKind::missing: return "missing";
  }
  return "?";
}

bool DriftReport::watched_drifted() const {
  return std::any_of(items.begin(), items.end(), [](const DriftItem& i) { return i.watched; });
}

DriftReport compute_drift(const Baseline& baseline, const LogFiles& log, const std::vector<std::string>& watched) {
  DriftReport r;
  r.baseline_source = baseline.source;
  // A watched path ending in '/' is a tree: every file under it is watched.
  auto is_watched = [&](const std::string& p) {
    return std::any_of(watched.begin(), watched.end(), [&](const std::string& w) {
      return w == p || (w.ends_with('/') && p.starts_with(w));
    });
  };
  for (const auto& [path, digests] : log.files) {
    auto it = baseline.files.find(path);
    if (it == baseline.files.end()) {
      r.items.push_back({path, DriftKind::added, {}, digests, is_watched(path)});
      continue;
    }
    bool unknown = std::any_of(digests.begin(), digests.end(), [&](const std::string& d) { return !it->second.count(d); });
    if (unknown) r.items.push_back({path, DriftKind::changed, it->second, digests, is_watched(path)});
  }
  for (const auto& [path, digests] : baseline.files)
    if (!log.files.count(path)) r.items.push_back({path, DriftKind::missing, digests, {}, is_watched(path)});
  std::sort(r.items.begin(), r.items.end(), [](const DriftItem& a, const DriftItem& b) { return a.path < b.path; });
  for (const std::string& w : watched)
    if (!w.ends_with('/') && !log.files.count(w) && !baseline.files.count(w)) r.watched_unmeasured.push_back(w);
  return r;
}

nlohmann::json DriftReport::to_json() const {
  nlohmann::json items_json = nlohmann::json::array();
  std::map<std::string, int> counts{{"changed", 0}, {"new", 0}, {"missing", 0}};
  for (const DriftItem& i : items) {
    ++counts[std::string(drift_kind_name(i.kind))];
    items_json.push_back({{"path", i.path}, {"kind", drift_kind_name(i.kind)}, {"watched", i.watched},
                          {"baseline", i.baseline}, {"current", i.current}});
  }
  return {{"baseline", baseline_source}, {"log", log_source}, {"drifted", drifted()},
          {"watched_drifted", watched_drifted()}, {"counts", counts}, {"items", items_json},
          {"watched_unmeasured", watched_unmeasured}};
}

std::string DriftReport::to_text() const {
  std::ostringstream out;
  for (const DriftItem& i : items) {
    out << fmt::format("{:<8} {}{}\n", drift_kind_name(i.kind), i.path, i.watched ? "  [watched]" : "");
    if (i.kind == DriftKind::changed)
      out << fmt::format("         was {}\n         now {}\n", fmt::join(i.baseline, ", "), fmt::join(i.current, ", "));
  }
  for (const std::string& w : watched_unmeasured) out << fmt::format("unmeasured {}  [watched]\n", w);
  out << (items.empty() ? "no drift\n" : fmt::format("{} files drifted\n", items.size()));
  return out.str();
}

}  // namespace imashim::node
