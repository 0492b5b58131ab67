// imactl label PATH...: label (or check) trees, layer directories or an overlay's layers.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "imashim/label/layer_cache.hpp"

namespace imashim::imactl {

namespace {

using label::LabelReport;
using label::LayerResult;

struct LabelArgs {
  std::vector<std::string> paths;
  std::string algo = "sha256";
  bool check = false;
  bool force = false;
  std::string key, cert, manifest_out;
  unsigned jobs = 0;
  bool json = false;
  bool layer = false;
  bool overlay = false;
  std::string cache_root = label::kDefaultLayerCacheRoot;
};

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, u++;
  return fmt::format("{:.1f} {}", b, units[u]);
}

void draw_progress(const label::LabelProgress& p) {
  double rate = p.seconds > 0 ? static_cast<double>(p.bytes_done) / p.seconds : 0;
  std::string line;
  if (p.bytes_total > 0) {
    double frac = std::min(1.0, static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total));
    int filled = static_cast<int>(frac * 30);
    std::string eta = "--:--";
    if (rate > 0) {
      int s = static_cast<int>(static_cast<double>(p.bytes_total - std::min(p.bytes_total, p.bytes_done)) / rate);
      eta = fmt::format("{}:{:02}", s / 60, s % 60);
    }
    line = fmt::format("[{:<30}] {}/{} files  {}/{}  {}/s  ETA {}", std::string(filled, '#'), p.files_done,
                       p.files_total, human_bytes(static_cast<double>(p.bytes_done)),
                       human_bytes(static_cast<double>(p.bytes_total)), human_bytes(rate), eta);
  } else {
    line = fmt::format("{} files  {}  {}/s", p.files_done, human_bytes(static_cast<double>(p.bytes_done)), human_bytes(rate));
  }
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
}

std::string summary(const LayerResult& r, bool check) {
  const LabelReport& x = r.report;
  if (r.from_cache)
    return fmt::format("{}: layer already labelled ({} files, {}), cached manifest {}", r.dir, x.files,
                       human_bytes(static_cast<double>(x.bytes)), r.manifest_path);
  std::string s = fmt::format("{}: {} files ({}) in {:.2f} s: ", r.dir, x.files, human_bytes(static_cast<double>(x.bytes)),
                              x.seconds);
  if (check)
    s += fmt::format("{} verified, {} changed, {} missing labels, {} wrong algorithm, {} bad signatures", x.verified,
                     x.changed, x.missing, x.wrong_algo, x.bad_signature);
  else
    s += fmt::format("{} labelled, {} already labelled, {} mismatching labels left alone, {} relabelled", x.labelled,
                     x.unchanged, x.changed + x.wrong_algo + x.bad_signature, x.relabelled);
  s += fmt::format(", {} hard links, {} symlinks (not followed), {} skipped, {} unlabelable", x.hardlinks, x.symlinks,
                   x.skipped, x.failed);
  if (x.added || x.removed) s += fmt::format(", {} added and {} removed since labelled", x.added, x.removed);
  return s;
}

nlohmann::json to_json(const LayerResult& r) {
  const LabelReport& x = r.report;
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : x.findings)
    findings.push_back({{"path", f.path}, {"finding", std::string(label::finding_name(f.finding))}, {"reason", f.reason}});
  return {{"path", r.dir},          {"from_cache", r.from_cache}, {"files", x.files},       {"bytes", x.bytes},
          {"labelled", x.labelled}, {"unchanged", x.unchanged},   {"verified", x.verified}, {"hardlinks", x.hardlinks},
          {"dirs", x.dirs},         {"symlinks", x.symlinks},     {"skipped", x.skipped},   {"unlabelable", x.failed},
          {"changed", x.changed},   {"missing", x.missing},       {"wrong_algo", x.wrong_algo},
          {"bad_signature", x.bad_signature}, {"relabelled", x.relabelled}, {"added", x.added},
          {"removed", x.removed},   {"seconds", x.seconds},       {"manifest", r.manifest_path},
          {"complete", x.complete()}, {"findings", findings}};
}

Result<std::vector<LayerResult>> run_one(const std::string& path, const label::LabelOptions& o, label::LayerCache& cache,
                                         const LabelArgs& a) {
  std::vector<LayerResult> out;
  if (a.overlay) return label::label_overlay(path, o, cache);
  if (a.layer) {
    IMASHIM_TRY(LayerResult r, label::label_layer(path, o, cache));
    out.push_back(std::move(r));
    return out;
  }
  LayerResult r;
  r.dir = path;
  IMASHIM_TRY(r.report, label::label_tree(path, o));
  out.push_back(std::move(r));
  return out;
}

Result<label::LabelOptions> make_options(const LabelArgs& a, bool progress) {
  label::LabelOptions o;
  auto algo = formats::hash_algo_from_name(a.algo);
  if (!algo || !formats::evp_md(*algo)) return fail("--algo: unknown or unavailable hash algorithm `" + a.algo + "`");
  o.algo = *algo;
  o.mode = a.check ? label::LabelMode::check : label::LabelMode::label;
  o.force = a.force;
  o.jobs = a.jobs;
  if (a.key.empty() != a.cert.empty()) return fail("--sign KEY and --cert CERT go together");
  if (!a.key.empty()) {
    IMASHIM_TRY(label::Signer s, label::Signer::load(a.key, a.cert));
    o.signer = std::make_shared<label::Signer>(std::move(s));
  }
  if (progress) {
    o.count_first = true;
    o.progress = draw_progress;
  }
  // Test hook: slow the walk down so a test can interrupt a run in the middle.
  if (const char* ms = std::getenv("IMASHIM_TEST_WALK_DELAY_MS")) {
    auto delay = std::chrono::milliseconds(std::atoi(ms));
    o.walk.before_open = [delay](const std::string&) { std::this_thread::sleep_for(delay); };
  }
  return o;
}

int run(const LabelArgs& a) {
  if (!a.manifest_out.empty() && (a.paths.size() != 1 || a.overlay))
    return report_error("--manifest OUT takes exactly one PATH (not --overlay)");
  if (a.check && a.force) return report_error("--check and --force exclude each other");
  bool progress = !a.json && ::isatty(STDERR_FILENO);
  auto opts = make_options(a, progress);
  if (!opts) return report_error(opts.error().message());
  label::LayerCache cache(a.cache_root);
  nlohmann::json all = nlohmann::json::array();
  bool ok = true;
  for (const auto& path : a.paths) {
    auto results = run_one(path, *opts, cache, a);
    if (progress) std::fprintf(stderr, "\r\033[K");
    if (!results) return report_error(results.error().message());
    for (const auto& r : *results) {
      ok = ok && (a.check ? r.report.clean() : r.report.complete());
      if (a.json) {
        all.push_back(to_json(r));
        continue;
      }
      std::cout << summary(r, a.check) << "\n";
      for (const auto& f : r.report.findings)
        std::cout << "  " << label::finding_name(f.finding) << " " << f.path << ": " << f.reason << "\n";
    }
    if (!a.manifest_out.empty()) {
      const auto& r = results->front();
      auto m = r.from_cache ? cache.manifest(r.id) : Result<label::Manifest>(r.report.manifest);
      if (!m) return report_error(m.error().message());
      auto w = label::write_manifest(a.manifest_out, *m);
      if (!w) return report_error(w.error().message());
    }
  }
  if (a.json) std::cout << all.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return ok ? kExitOk : kExitFailed;
}

}  // namespace

void add_label_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<LabelArgs>();
  auto* cmd = app.add_subcommand("label", "Label files with security.ima (or check their labels)");
  cmd->add_option("PATH", args->paths, "Trees to label (layer directories with --layer, overlay mounts with --overlay)")
      ->required();
  cmd->add_option("--algo", args->algo, "Hash algorithm (sha1, sha256, sha384, sha512, ...)")->capture_default_str();
  cmd->add_flag("--check", args->check, "Verify labels against content; write nothing; exit 1 on any finding");
  cmd->add_flag("--force", args->force, "Relabel files whose existing label does not match (labelled layers are immutable otherwise)");
  cmd->add_option("--sign", args->key, "Write v2 signatures made with this PEM private key (RSA or EC)");
  cmd->add_option("--cert", args->cert, "The key's X.509 certificate (key id from its subjectKeyIdentifier)");
  cmd->add_option("--manifest", args->manifest_out, "Write the tree's manifest (path, size, mode, uid, gid, digest) here");
  cmd->add_option("--jobs,-j", args->jobs, "Hashing threads (default: number of CPUs)");
  cmd->add_flag("--json", args->json, "Print the report as JSON");
  cmd->add_flag("--layer", args->layer, "PATHs are image layer directories: label each once, through the layer cache");
  cmd->add_flag("--overlay", args->overlay, "PATHs are overlay mount points: label their lower layers through the cache");
  cmd->add_option("--cache-root", args->cache_root, "Layer cache directory")->capture_default_str();
  cmd->callback([args, &action] { action = [args] { return run(*args); }; });
}

}  // namespace imashim::imactl
