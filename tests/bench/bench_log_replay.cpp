// Replay of a synthetic 1,000,000-entry ima-ng log: entries per second for the sha1
// and sha256 banks (and both), one thread. Baseline in the same run: hashing the same
// bytes with no parsing (the floor set by OpenSSL), so the ratio shows the parser's cost.
//   build/tests/bench_log_replay [entries]
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "imashim/formats/measurement_log.hpp"

using namespace imashim;
using namespace imashim::formats;
using Clock = std::chrono::steady_clock;

namespace {

Bytes synthetic_log(std::size_t n) {
  auto desc = *builtin_template("ima-ng");
  Bytes log;
  log.reserve(n * 120);
  Bytes zero(kTemplateDigestSize, 0);
  for (std::size_t i = 0; i < n; ++i) {
    Measurement m;
    m.path = "/var/lib/containers/storage/overlay/l/bin/file" + std::to_string(i);
    m.algo = HashAlgo::sha256;
    m.digest.assign(32, static_cast<std::uint8_t>(i));
    auto e = *build_entry(desc, m);
    auto v = *view_of(e, zero);
    Bytes sha1 = *template_digest(HashAlgo::sha1, v);
    v.template_digest = sha1;
    append_binary_entry(log, v);
  }
  return log;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double replay_rate(const Bytes& log, std::vector<HashAlgo> banks, std::size_t n) {
  ReplayOptions o;
  o.banks = std::move(banks);
  auto t0 = Clock::now();
  auto r = replay_log(log, o);
  double s = seconds_since(t0);
  if (!r || r->entries != n || r->first_bad_entry) {
    std::fprintf(stderr, "replay failed\n");
    std::exit(1);
  }
  return static_cast<double>(n) / s;
}

// Baseline: two hashes per entry over the template data and two PCR extends, no parsing.
double baseline_rate(const Bytes& log, std::size_t n) {
  LogReader r(log);
  std::vector<ByteView> data;
  data.reserve(n);
  for (;;) {
    auto e = r.next();
    if (!e || !*e) break;
    data.push_back((*e)->template_data);
  }
  auto h1 = *Hasher::create(HashAlgo::sha1);
  auto h2 = *Hasher::create(HashAlgo::sha256);
  auto b1 = *PcrBank::create(HashAlgo::sha1);
  auto b2 = *PcrBank::create(HashAlgo::sha256);
  auto t0 = Clock::now();
  for (ByteView d : data) {
    h1.reset();
    h1.update(d);
    (void)b1.extend(10, h1.finish());
    h2.reset();
    h2.update(d);
    (void)b2.extend(10, h2.finish());
  }
  return static_cast<double>(data.size()) / seconds_since(t0);
}

// The same replay through the command line: build/imactl next to build/tests/.
void time_imactl(const char* argv0, const Bytes& log, std::size_t n) {
  std::string self(argv0);
  std::string imactl = self.substr(0, self.rfind('/') + 1) + "../imactl";
  if (::access(imactl.c_str(), X_OK) != 0) {
    std::printf("imactl not found next to the benchmark (%s): command-line figures skipped\n", imactl.c_str());
    return;
  }
  char path[] = "/tmp/imashim-bench-log-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0 || ::write(fd, log.data(), log.size()) != static_cast<ssize_t>(log.size())) std::exit(1);
  ::close(fd);
  for (const char* bank : {"sha1", "sha256"}) {
    std::string cmd = imactl + " log replay " + path + " --bank " + bank + " >/dev/null";
    auto t0 = Clock::now();
    int rc = std::system(cmd.c_str());
    double s = seconds_since(t0);
    std::printf("imactl log replay --bank %-6s %10.0f entries/s (%.2f s, exit %d, includes reading the file)\n", bank,
                static_cast<double>(n) / s, s, WEXITSTATUS(rc));
  }
  ::unlink(path);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000000;
  auto t0 = Clock::now();
  Bytes log = synthetic_log(n);
  std::printf("bench_log_replay: %zu ima-ng entries, %.1f MB, built in %.2f s\n", n, log.size() / 1e6,
              seconds_since(t0));
  double sha1 = replay_rate(log, {HashAlgo::sha1}, n);
  double sha256 = replay_rate(log, {HashAlgo::sha256}, n);
  double both = replay_rate(log, {HashAlgo::sha1, HashAlgo::sha256}, n);
  double base = baseline_rate(log, n);
  std::printf("replay sha1 bank:          %10.0f entries/s\n", sha1);
  std::printf("replay sha256 bank:        %10.0f entries/s (also checks each entry's sha1)\n", sha256);
  std::printf("replay sha1+sha256 banks:  %10.0f entries/s\n", both);
  std::printf("baseline (hash+extend both banks, no parsing): %10.0f entries/s; replay/baseline = %.2f\n", base,
              both / base);
  time_imactl(argv[0], log, n);
  std::printf("goal >= 500000 entries/s per bank: sha1 %s, sha256 %s\n", sha1 >= 500000 ? "met" : "NOT met",
              sha256 >= 500000 ? "met" : "NOT met");
  return 0;
}
