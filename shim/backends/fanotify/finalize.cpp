// The end of a container's log: its pcrs files, written durably. Used by the
// monitor at exit, by the guardian and by the backend's detach for a monitor
// that died. Apart from guardian.cpp, so that ima-runc-full (detach) does not
// link the guardian and with it libcap and libseccomp.
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "imashim/formats/measurement_log.hpp"
#include "imashim/formats/pcr.hpp"
#include "monitor_internal.hpp"

namespace imashim::backends::fanotify {

Result<void> sync_file(const std::filesystem::path& path) {
  os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return fail_errno("open `" + path.string() + "`");
  if (::fsync(fd.get()) != 0) return fail_errno("fsync `" + path.string() + "`");
  return {};
}

std::filesystem::path stderr_log(const std::filesystem::path& state_dir, const std::filesystem::path& log_dir) {
  return (state_dir.empty() ? log_dir : state_dir) / "monitor.log";
}

void keep_stderr_log(const std::filesystem::path& state_dir, const std::filesystem::path& log_dir) {
  auto from = stderr_log(state_dir, log_dir), to = log_dir / "monitor.log";
  if (from == to) return;
  os::UniqueFd in(::open(from.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!in) return;
  os::UniqueFd out;
  char buf[16 * 1024];
  ssize_t n;
  while ((n = ::read(in.get(), buf, sizeof buf)) > 0) {
    if (!out) out.reset(::open(to.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640));
    if (!out || ::write(out.get(), buf, static_cast<std::size_t>(n)) != n) return;
  }
  ::ftruncate(in.get(), 0);  // kept once: a later call (detach after the monitor) adds nothing
}

Result<void> finalize_log(const std::filesystem::path& log_dir, std::vector<SyncJob> also) {
  auto bin = log_dir / "binary_runtime_measurements";
  Bytes data;
  if (std::filesystem::exists(bin)) {
    IMASHIM_TRY(data, formats::read_whole_file(bin));
  }
  IMASHIM_TRY(auto r, formats::replay_log(data));
  std::vector<std::pair<std::string, std::string>> files{{"pcrs", formats::format_pcrs_tpm2(r.banks)}};
  for (const auto& bank : r.banks)
    files.emplace_back("pcrs-" + std::string(formats::hash_algo_name(bank.algo())), formats::format_pcrs_evmctl(bank));
  struct Staged {
    std::filesystem::path tmp, path;
    os::UniqueFd fd;
  };
  std::vector<Staged> staged;
  auto unstage = [&] {
    for (const auto& s : staged) ::unlink(s.tmp.c_str());
  };
  for (const auto& [name, text] : files) {
    Staged s{log_dir / (name + ".tmp." + std::to_string(::getpid())), log_dir / name, {}};
    s.fd.reset(::open(s.tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!s.fd) {
      unstage();
      return fail_errno("create `" + s.tmp.string() + "`");
    }
    staged.push_back(std::move(s));
    if (::write(staged.back().fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      unstage();
      return fail_errno("write `" + staged.back().tmp.string() + "`");
    }
  }
  for (const auto& s : staged)
    also.push_back([fd = s.fd.get(), tmp = s.tmp]() -> Result<void> {
      if (::fsync(fd) != 0) return fail_errno("fsync `" + tmp.string() + "`");
      return {};
    });
  if (auto synced = run_syncs(std::move(also)); !synced) {
    unstage();
    return synced;
  }
  for (const auto& s : staged)
    if (::rename(s.tmp.c_str(), s.path.c_str()) != 0) {
      unstage();
      return fail_errno("rename to `" + s.path.string() + "`");
    }
  return {};
}

}  // namespace imashim::backends::fanotify
