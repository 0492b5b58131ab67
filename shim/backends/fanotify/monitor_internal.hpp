// Pieces of the monitor process shared by its source files.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "imashim/backends/fanotify.hpp"
#include "imashim/backends/fanotify_engine.hpp"
#include "imashim/os/fd.hpp"
#include "imashim/util/result.hpp"

namespace imashim::backends::fanotify {

// The FileContent of a fanotify event fd: pread, fgetxattr, fsetxattr.
class EventFdContent : public FileContent {
 public:
  // `size`: the file's size from the event's fstat (-1: not known), so hashing needs no fstat of its own.
  explicit EventFdContent(int fd, off_t size = -1) : fd_(fd), size_(size) {}
  Result<Bytes> digest(formats::HashAlgo algo) override;
  Result<std::optional<Bytes>> ima_xattr() override;
  Result<void> set_ima_xattr(ByteView value) override;
  Result<Bytes> head(std::size_t n) override;

 private:
  int fd_;
  off_t size_;
};

// The cache key of the file an fstat describes.
FileVersion version_of(const struct stat& st);
// Fills the event's file fields from the event fd's `st` (fstat, done once by
// the reader) and fstatfs, the path lazily (FileEvent::path_of) and, with
// `want_ids`, the opener's ids from /proc/<pid>/status.
Result<void> describe_event(int fd, pid_t pid, const struct stat& st, FileEvent& event, bool want_ids);
// The opener's uid/euid/gid/egid from /proc/<pid>/status.
Result<void> read_status(pid_t pid, FileEvent& event);

// The engine for a monitor config: policy, log, recorder, manifests, keys.
Result<std::unique_ptr<Engine>> make_engine(const MonitorConfig& config);

// Builds the fail-closed guardian: a child process that watches the monitor
// and the container's init. `monitor_pidfd`, `init_pidfd`: pidfds it keeps;
// `clean_fd`: read end of a pipe the monitor writes one byte to when it stops
// on purpose. Returns the guardian's pid (in the monitor).
Result<pid_t> start_guardian(const MonitorConfig& config, int monitor_pidfd, int init_pidfd, int clean_fd);

// Appends a violation entry to the container's log and refreshes its pcrs
// files: used by the guardian and by detach when a monitor died.
Result<void> record_gap(const MonitorConfig& config, const std::string& name);
// fsyncs an existing file (the container's policy, which ima-runc writes
// without waiting for the disk: the monitor makes it durable once it reported
// ready, off the path of create; detach does for a monitor that died first).
Result<void> sync_file(const std::filesystem::path& path);
// One fsync or fdatasync of the monitor's exit (sync_threads.cpp).
using SyncJob = std::function<Result<void>()>;
// Writes pcrs (tpm2 text, both banks) and pcrs-sha1 / pcrs-sha256 (evmctl --pcrs) from the binary log,
// each durably (temp file, fsync, rename); `also`: more syncs to run alongside theirs (run_syncs),
// all done before the first rename.
Result<void> finalize_log(const std::filesystem::path& log_dir, std::vector<SyncJob> also = {});
// Starts `n` threads that run_syncs uses, each running `first` before it
// serves; before the seccomp filter, which allows no new threads. A no-op when
// they run already. Without them (detach, the guardian, replay) the jobs run
// one after another on the caller's thread.
void start_sync_threads(unsigned n, void (*first)() = nullptr);
void stop_sync_threads();
// Runs `jobs` concurrently (see start_sync_threads); the first failure is returned.
Result<void> run_syncs(std::vector<SyncJob> jobs);

// Drops every capability but `keep` (CAP_* numbers) from all sets, and the bounding set.
Result<void> drop_capabilities(const std::vector<int>& keep);
// Builds the monitor's seccomp allow-list as a BPF program and keeps it, so
// that confine_monitor() only has to load it (libseccomp's build and code
// generation cost about 0.6 ms; a prestarted monitor does them while it waits).
Result<void> prepare_confinement();
// Loads the monitor's seccomp allow-list on every thread (built now unless
// prepare_confinement() did).
Result<void> confine_monitor();

// Appends one line of JSON to a file opened with O_APPEND.
void append_jsonl(int fd, const nlohmann::json& j);

inline constexpr const char* kMonitorName = "ima-monitor";
// Created in the monitor's state dir once it has answered its last event and
// flushed and finalized the log: detach, seeing it after the monitor exited,
// has nothing left to repair or finalize (and removes it).
inline constexpr const char* kFinalizedMark = "monitor.finalized";

}  // namespace imashim::backends::fanotify
