// Periodic anchoring of a running container's log: a small process that
// follows the log as the backend appends to it and anchors it every N new
// entries or T seconds (AnchorSchedule), until the container's init exits.
// The runtime starts it after attach and stops it before the final anchor at
// delete. It runs apart from the monitor, so the monitor's event path never
// waits for the TPM (and the monitor's seccomp filter need not allow it).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "imashim/formats/measurement_log.hpp"
#include "imashim/formats/pcr.hpp"
#include "imashim/tpm/anchor.hpp"

namespace imashim::tpm {

// Replays a growing binary log incrementally: each update() reads only the
// bytes appended since the last one and stops before a torn (still being
// written) last entry.
class LogFollower {
 public:
  static Result<LogFollower> create(std::filesystem::path binary_log, formats::HashAlgo bank);
  // Reads new complete entries; returns how many.
  Result<std::size_t> update();
  std::uint64_t entries() const { return entries_; }
  Bytes virtual_pcr() const { return bank_.value(kContainerLogPcr); }

 private:
  LogFollower(std::filesystem::path p, formats::PcrBank b, formats::TemplateHasher h)
      : path_(std::move(p)), bank_(std::move(b)), hasher_(std::move(h)) {}
  std::filesystem::path path_;
  formats::PcrBank bank_;
  formats::TemplateHasher hasher_;
  std::uint64_t offset_ = 0;
  std::uint64_t entries_ = 0;
};

struct PeriodicOptions {
  AnchorConfig config;
  std::string container_id;
  std::filesystem::path log_dir;
  std::uint64_t every_events = 64;
  std::uint64_t every_seconds = 10;
  pid_t init_pid = -1;  // stop when it exits (-1: run until SIGTERM)
  std::chrono::milliseconds poll{250};
};

// The loop itself (what the spawned process runs). Anchors that fail mark the
// log unanchored (whatever on_failure says: the container is already running)
// and are retried at the next due time. Returns the exit code.
int run_periodic_anchor(const PeriodicOptions& options);

// Starts run_periodic_anchor in a detached child process (own session, stdio
// on /dev/null, no other inherited descriptors) and returns its pid.
Result<pid_t> spawn_periodic_anchor(const PeriodicOptions& options);
// Stops it (SIGTERM) and waits until it is gone (up to 5 s, then SIGKILL).
Result<void> stop_periodic_anchor(pid_t pid);

}  // namespace imashim::tpm
