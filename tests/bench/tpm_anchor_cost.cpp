// What TPM anchoring costs, run by bench_tpm.sh with a swtpm it started:
//   tpm_anchor_cost TCTI WORKDIR
// Prints, with the software TPM (no I/O) as the baseline measured in the same run:
//  - per container start: anchor_at_start (connect, read PCR banks, replay the anchor log, append, extend);
//  - per container stop: anchor_container_log (read + replay the container log, connect, lock,
//    replay the anchor log, append with fsync, extend every bank);
//  - sustained anchors/s as the anchor log grows;
//  - measurement-log appends/s (what the monitor does per event) of a writer that would
//    anchor synchronously every 64 entries (the node config default) vs. never: why
//    imashim anchors from a separate process instead.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "imashim/formats/measurement_log.hpp"
#include "imashim/tpm/anchor.hpp"

using namespace imashim;
using namespace imashim::tpm;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void die(const std::string& what, const Error& e) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), e.message().c_str());
  std::exit(1);
}

// A container log of `n` ima-ng entries, as the monitor writes it.
void write_container_log(const fs::path& dir, int n) {
  fs::create_directories(dir);
  auto log = formats::MeasurementLogAppender::open(dir / "binary_runtime_measurements", dir / "ascii_runtime_measurements");
  if (!log) die("open log", log.error());
  auto desc = *formats::builtin_template("ima-ng");
  for (int i = 0; i < n; ++i) {
    formats::Measurement m;
    m.path = "/usr/lib/file" + std::to_string(i);
    m.digest = *formats::hash_bytes(HashAlgo::sha256, as_bytes(m.path));
    if (auto r = log->append(desc, m); !r) die("append", r.error());
  }
}

struct Costs {
  double start_ms, stop_ms;
};

// Median cost of a container start (check) and stop (anchor) over `n` containers.
Costs start_stop(const AnchorConfig& config, const fs::path& logs, int n) {
  std::vector<double> start, stop;
  for (int i = 0; i < n; ++i) {
    fs::path dir = logs / ("c" + std::to_string(i));
    write_container_log(dir, 200);
    auto t0 = Clock::now();
    if (auto r = anchor_at_start(config, "c" + std::to_string(i), dir); !r) die("anchor_at_start", r.error());
    start.push_back(ms_since(t0));
    t0 = Clock::now();
    auto r = anchor_container_log(config, "c" + std::to_string(i), dir, AnchorEvent::delete_);
    if (!r || !*r) die("anchor", r ? Error("marked unanchored") : r.error());
    stop.push_back(ms_since(t0));
  }
  return {median(start), median(stop)};
}

// Anchors/s with one open TPM connection, over `n` anchors.
double anchor_rate(Tpm& tpm, const AnchorConfig& config, int n) {
  LogState s{"bench", Bytes(32, 1), 10, AnchorEvent::periodic};
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i)
    if (auto r = anchor_with(tpm, config, s); !r) die("anchor_with", r.error());
  return n / (ms_since(t0) / 1000.0);
}

// Log appends/s with an anchor every `every` entries (0: never), one TPM connection per anchor.
double append_rate(const AnchorConfig* config, const fs::path& dir, int n, int every) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto desc = *formats::builtin_template("ima-ng");
  auto log = formats::MeasurementLogAppender::open(dir / "binary_runtime_measurements", dir / "ascii_runtime_measurements");
  if (!log) die("open log", log.error());
  AnchorSchedule schedule(static_cast<std::uint64_t>(every), 0);
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    formats::Measurement m;
    m.path = "/bin/f" + std::to_string(i);
    m.digest = *formats::hash_bytes(HashAlgo::sha256, as_bytes(m.path));
    if (auto r = log->append(desc, m); !r) die("append", r.error());
    schedule.entries_added();
    if (config && schedule.due()) {
      const formats::PcrBank* bank = formats::find_bank(log->banks(), HashAlgo::sha256);
      LogState s{"events", bank->value(kContainerLogPcr), log->entries(), AnchorEvent::periodic};
      if (auto r = anchor(*config, s); !r) die("anchor", r.error());
      schedule.anchored();
    }
  }
  return n / (ms_since(t0) / 1000.0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: tpm_anchor_cost TCTI WORKDIR\n");
    return 2;
  }
  fs::path work = argv[2];
  AnchorConfig swtpm = make_anchor_config(argv[1], 23, OnFailure::require, work / "swtpm");
  constexpr int kContainers = 30;

  Costs real = start_stop(swtpm, work / "swtpm", kContainers);
  std::printf("per container (median of %d, 200-entry logs, swtpm over TCP):\n", kContainers);
  std::printf("  start: anchor_at_start          %7.2f ms\n", real.start_ms);
  std::printf("  stop:  anchor_container_log     %7.2f ms\n", real.stop_ms);

  auto tpm = open_tpm(swtpm.tpm);
  if (!tpm) die("open", tpm.error());
  auto soft = make_software_tpm();
  AnchorConfig softcfg = make_anchor_config("", 23, OnFailure::require, work / "soft");
  for (int size : {0, 1000}) {
    fs::remove_all(work / "rate");
    fs::remove_all(work / "rate-soft");
    AnchorConfig c = make_anchor_config(argv[1], 23, OnFailure::require, work / "rate");
    AnchorConfig cs = make_anchor_config("", 23, OnFailure::require, work / "rate-soft");
    (void)(*tpm)->pcr_reset(23);
    (void)soft->pcr_reset(23);
    if (size) anchor_rate(**tpm, c, size), anchor_rate(*soft, cs, size);
    double r_tpm = anchor_rate(**tpm, c, 200);
    double r_soft = anchor_rate(*soft, cs, 200);
    std::printf("anchors/s with an anchor log of %4d entries: swtpm %7.0f, software TPM (baseline) %7.0f, ratio %.2f\n",
                size, r_tpm, r_soft, r_tpm / r_soft);
  }
  (void)(*tpm)->pcr_reset(23);
  tpm->reset();

  constexpr int kEvents = 20000;
  AnchorConfig ev = make_anchor_config(argv[1], 23, OnFailure::require, work / "events-anchor");
  double off = append_rate(nullptr, work / "events-off", kEvents, 64);
  double on = append_rate(&ev, work / "events-on", kEvents, 64);
  double off2 = append_rate(nullptr, work / "events-off", kEvents, 64);
  std::printf("log appends/s of a writer that anchors synchronously (%d events): off %.0f (again: %.0f), "
              "every 64 events %.0f, ratio %.2f\n",
              kEvents, off, off2, on, on / std::max(off, off2));
  (void)softcfg;
  return 0;
}
