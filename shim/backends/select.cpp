#include "imashim/backends/select.hpp"
#include "imashim/os/file.hpp"

#include <fstream>
#include <sstream>

#include "imashim/backends/fanotify.hpp"
#include "imashim/backends/host.hpp"
#include "imashim/backends/ns_mount.hpp"
#include "imashim/backends/ns_user.hpp"

namespace imashim::backends {
namespace {

namespace fs = std::filesystem;

fs::path ima_dir(const DetectOptions& o) { return o.sys / "kernel" / "security" / "ima"; }

bool present(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

std::string read_small(const fs::path& p) { return os::read_file(p).value_or(std::string()); }

// One probe per kernel backend, in the order of preference: usable() says
// whether the node supports it and puts the reason, either way, in `why`.
struct Probe {
  Kind kind;
  bool (*usable)(const DetectOptions&, std::string& why);
};

bool probe_ns_mount(const DetectOptions& o, std::string& why) {
  auto f = ima_dir(o) / "namespaces";
  bool ok = present(f);
  why = ok ? "`" + f.string() + "` exists: the kernel has the IMA mount-namespace draft (per-container policy "
             "and log" + std::string(read_small(o.proc / "cmdline").find("ima_appraise=enforce_ns") !=
                                                 std::string::npos ? ", enforced: ima_appraise=enforce_ns)" : ")")
           : "no `" + f.string() + "` (the 2017 mount-namespace draft is in no mainline kernel)";
  return ok;
}

bool probe_ns_user(const DetectOptions& o, std::string& why) {
  auto f = ima_dir(o) / "active";
  bool ok = present(f);
  why = ok ? "`" + f.string() + "` exists: the kernel has IMA user namespaces (per-container policy and log)"
           : "no `" + f.string() + "` (the IMA user-namespace series is in no mainline kernel)";
  return ok;
}

bool probe_host(const DetectOptions& o, std::string& why) {
  auto f = ima_dir(o) / "ascii_runtime_measurements";
  bool ok = present(f);
  why = ok ? "`" + f.string() + "` exists: mainline IMA, one host policy and log (labels make host appraisal pass; "
             "no per-container policy)"
           : "no `" + f.string() + "`: the kernel has no IMA (CONFIG_IMA) or securityfs is not mounted";
  return ok;
}

constexpr Probe kProbes[] = {
    {Kind::ns_mount, probe_ns_mount},
    {Kind::ns_user, probe_ns_user},
    {Kind::host, probe_host},
};

}  // namespace

Detection detect_backend(const DetectOptions& options) {
  Detection d;
  for (const auto& probe : kProbes) {
    std::string why;
    if (probe.usable(options, why)) {
      d.kind = probe.kind;
      d.reason = std::string(kind_name(probe.kind)) + ": " + why;
      return d;
    }
    d.rejected.push_back(std::string(kind_name(probe.kind)) + ": " + why);
  }
  d.kind = Kind::fanotify;
  d.reason = "fanotify: no kernel IMA interface usable, so imashim measures and appraises in userspace "
             "(fanotify permission events on the container's root)";
  return d;
}

Result<std::unique_ptr<Backend>> make_backend(Kind kind, const DetectOptions& options) {
  auto securityfs = options.sys / "kernel" / "security";
  switch (kind) {
    case Kind::ns_mount: {
      NsMountOptions o;
      o.securityfs = securityfs;
      o.proc = options.proc;
      return std::unique_ptr<Backend>(std::make_unique<NsMountBackend>(std::move(o)));
    }
    case Kind::ns_user: {
      NsUserOptions o;
      o.proc = options.proc;
      return std::unique_ptr<Backend>(std::make_unique<NsUserBackend>(std::move(o)));
    }
    case Kind::host:
      return std::unique_ptr<Backend>(
          std::make_unique<HostBackend>(HostOptions{.securityfs = securityfs, .proc = options.proc}));
    case Kind::fanotify:
      return make_fanotify_backend();
  }
  return fail("unknown backend kind");
}

}  // namespace imashim::backends
