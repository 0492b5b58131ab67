// Anchoring per-container measurement logs in one host TPM PCR.
//
// Each container's log extends a virtual PCR (its own PCR 10, kept in software).
// Such a log is only as trustworthy as the file system it lives on, so from time
// to time (every N entries, every T seconds, and at delete) the container's
// virtual PCR is anchored: an entry
//     n-ng = container id | d-ng = <algo>:<virtual PCR 10> | buf = "entries=<N> event=<why>"
// is appended to the node anchor log (the kernel's binary format, a custom
// template named by its format string "n-ng|d-ng|buf", as the kernel names
// custom templates), and the anchor PCR of every allocated bank is extended
// with H_bank(template data) — for sha256, sha256(container id ‖ virtual PCR ‖ count),
// each field with its length. A verifier replays the node anchor log to the
// quoted PCR, then each container's first N entries to the anchored virtual PCR.
//
// The log entry is written before the PCR is extended (as the kernel does), under
// an exclusive lock on the anchor directory. If a crash leaves one logged anchor
// unextended, the next anchor extends it first. A PCR that is all zero while the
// anchor log is not (a reboot, or a PCR reset) starts a new anchor log; the old
// one is kept as binary_runtime_measurements.<n>.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "imashim/formats/hash.hpp"
#include "imashim/os/fd.hpp"
#include "imashim/tpm/tpm.hpp"
#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::tpm {

// PCR 23 is the TCG's "application support" PCR: no firmware, boot loader, shim,
// kernel IMA (10) or systemd (11-15) component extends it. It is also resettable
// from locality 0, so root on a running node can reset it and replay a forged
// anchor log: see docs/tpm.md before choosing it where the threat is root.
inline constexpr unsigned kDefaultAnchorPcr = 23;

// The template of node anchor log entries (a custom format; the log names it by its format).
inline constexpr std::string_view kAnchorTemplate = "n-ng|d-ng|buf";
// The container log PCR that is anchored (the kernel's IMA PCR).
inline constexpr std::uint32_t kContainerLogPcr = 10;
// File names in the anchor directory and in a container's log directory.
inline constexpr std::string_view kAnchorBinaryLog = "binary_runtime_measurements";
inline constexpr std::string_view kAnchorAsciiLog = "ascii_runtime_measurements";
inline constexpr std::string_view kContainerBinaryLog = "binary_runtime_measurements";
inline constexpr std::string_view kUnanchoredMarker = "unanchored";
// The anchor directory inside the node's log root. '@' cannot appear in an OCI
// runtime container id, so it never collides with a container's log directory.
inline constexpr std::string_view kAnchorDirName = "@anchor";

// What to do when the TPM cannot be reached or fails.
enum class OnFailure {
  require,  // containers do not start; a failed anchor is an error
  prefer,   // containers run; their log directory gets an `unanchored` marker saying why
};

struct AnchorConfig {
  TpmOptions tpm;
  unsigned pcr = kDefaultAnchorPcr;
  OnFailure on_failure = OnFailure::prefer;
  std::filesystem::path anchor_dir;  // node anchor log + lock; usually <log_root>/@anchor
  formats::HashAlgo log_bank = formats::HashAlgo::sha256;  // the virtual PCR bank anchored
};

// The config for a node whose container logs live under `log_root` (the node
// config's log_root): the anchor directory is <log_root>/@anchor.
AnchorConfig make_anchor_config(std::string tcti, unsigned pcr, OnFailure on_failure,
                                const std::filesystem::path& log_root);

// Why an anchor was taken (recorded in the entry: the verifier tells a final
// anchor, after which the log cannot grow, from a periodic one).
enum class AnchorEvent { periodic, start, delete_ };
std::string_view anchor_event_name(AnchorEvent event);  // "periodic", "start", "delete"

// The state of one container log to anchor.
struct LogState {
  std::string container_id;
  Bytes virtual_pcr;       // PCR 10 of `log_bank` after `entries` entries
  std::uint64_t entries = 0;
  AnchorEvent event = AnchorEvent::periodic;
};

// One anchor as the node anchor log holds it.
struct AnchorRecord {
  std::size_t index = 0;  // entry number in the anchor log
  std::string container_id;
  formats::HashAlgo algo = formats::HashAlgo::sha256;
  Bytes virtual_pcr;
  std::uint64_t entries = 0;
  AnchorEvent event = AnchorEvent::periodic;
};

// Replays a container's binary log: its virtual PCR 10 in `bank` and its entry count.
Result<LogState> container_log_state(const std::string& container_id, ByteView binary_log,
                                     formats::HashAlgo bank);

// Anchors `state` with an open TPM. Returns the record appended to the anchor log.
Result<AnchorRecord> anchor_with(Tpm& tpm, const AnchorConfig& config, const LogState& state);
// Opens the TPM named by the config, anchors, closes (one TPM connection per call:
// swtpm and /dev/tpm0 serve one client at a time, so no process keeps one open).
Result<AnchorRecord> anchor(const AnchorConfig& config, const LogState& state);

// What the runtime (at delete) and the monitor (periodically) call: reads the
// container's log from `log_dir`, anchors it, and applies on_failure — with
// prefer, a failure writes `log_dir/unanchored` (the reason) and returns ok
// with std::nullopt; with require, the failure is returned.
Result<std::optional<AnchorRecord>> anchor_container_log(const AnchorConfig& config,
                                                         const std::string& container_id,
                                                         const std::filesystem::path& log_dir,
                                                         AnchorEvent event);

// At create, before any of the container's code runs: anchors a `start` record
// (0 entries), which also proves that the TPM answers and agrees with the anchor
// log. A verifier judges a container only by the anchors after its id's last
// start, so a new container reusing an id is not held to its predecessor's log.
// require: the error (the container must not start); prefer: marks `log_dir`
// unanchored and returns ok.
Result<void> anchor_at_start(const AnchorConfig& config, const std::string& container_id,
                             const std::filesystem::path& log_dir);

// Writes `log_dir/unanchored` with the reason (atomically).
Result<void> mark_unanchored(const std::filesystem::path& log_dir, std::string_view reason);

// Decides when a running container's log is due for an anchor: after
// `every_events` new entries or `every_seconds` with entries pending (0 = never by that rule).
class AnchorSchedule {
 public:
  using Clock = std::chrono::steady_clock;
  AnchorSchedule(std::uint64_t every_events, std::uint64_t every_seconds, Clock::time_point now = Clock::now());
  // Records `n` new log entries.
  void entries_added(std::uint64_t n = 1) { pending_ += n; }
  bool due(Clock::time_point now = Clock::now()) const;
  // Call after an anchor was taken.
  void anchored(Clock::time_point now = Clock::now());
  std::uint64_t pending() const { return pending_; }

 private:
  std::uint64_t every_events_, every_seconds_;
  std::uint64_t pending_ = 0;
  Clock::time_point last_;
};

// Takes the anchor directory's exclusive lock (created if missing): while it is
// held no anchor is appended or extended (attest holds it to quote consistently).
Result<os::UniqueFd> lock_anchor_dir(const std::filesystem::path& anchor_dir);

// Parses a node anchor log (binary) into records; an entry that is not an
// anchor is an error naming its index.
Result<std::vector<AnchorRecord>> read_anchor_log(ByteView binary_log);

}  // namespace imashim::tpm
