// imashim's profiles: policies that implement benchmark recommendations, each
// rule commented with the recommendation it serves, plus the files the
// recommendations name (for drift reports). Paths ending in `/` are trees.
#include <fmt/format.h>

#include <functional>

#include "imashim/policy/builtin.hpp"

namespace imashim::policy {
namespace {

Rule make(std::string_view text, std::string comment) {
  auto r = parse_rule(text);
  if (!r.ok()) throw std::logic_error("profile rule does not parse: " + std::string(text));
  r->comments.push_back(std::move(comment));
  return std::move(*r);
}

// Pseudo filesystems first: their files have no stored content, and the kernel's
// own policies skip them the same way.
void add_pseudo_fs_skips(Policy& p, std::string_view rec) {
  for (const auto& fs : pseudo_filesystems()) {
    if (fs.magic == kTmpfsMagic || fs.magic == kRamfsMagic) continue;  // see add_tmpfs_skips
    for (auto action : {"dont_measure", "dont_appraise"})
      p.rules.push_back(make(fmt::format("{} fsmagic=0x{:x}", action, fs.magic),
                             fmt::format("{}: {} ({}) holds no stored files", rec, fs.name, fs.macro)));
  }
}

// tmpfs and ramfs hold only what was written since boot; they come after the
// exec rules, so a program run from them is still measured and appraised.
void add_tmpfs_skips(Policy& p, std::string_view rec) {
  for (std::uint64_t magic : {kTmpfsMagic, kRamfsMagic})
    for (auto action : {"dont_measure", "dont_appraise"})
      p.rules.push_back(make(fmt::format("{} fsmagic=0x{:x}", action, magic),
                             fmt::format("{}: {} content is written at run time, not installed", rec,
                                         magic == kTmpfsMagic ? "tmpfs" : "ramfs")));
}

Profile cis_ubuntu() {
  constexpr std::string_view rec = "CIS Ubuntu 20.04 v2.0.1 1.2.2 (filesystem integrity is regularly checked)";
  Profile prof;
  prof.name = "cis-ubuntu-20.04";
  prof.title = std::string(rec) + ": IMA checks each file's integrity whenever it is used";
  Policy& p = prof.policy;
  add_pseudo_fs_skips(p, rec);
  p.rules.push_back(make("measure func=BPRM_CHECK mask=MAY_EXEC",
                         fmt::format("{}: every program executed is measured", rec)));
  p.rules.push_back(make("measure func=MMAP_CHECK mask=MAY_EXEC",
                         fmt::format("{}: every shared library mapped executable is measured", rec)));
  p.rules.push_back(make("appraise func=BPRM_CHECK mask=MAY_EXEC",
                         fmt::format("{}: a program whose content no longer matches its label does not run", rec)));
  p.rules.push_back(make("appraise func=MMAP_CHECK mask=MAY_EXEC",
                         fmt::format("{}: a library whose content no longer matches its label is not mapped", rec)));
  add_tmpfs_skips(p, rec);
  p.rules.push_back(make("measure func=FILE_CHECK mask=^MAY_READ euid=0",
                         fmt::format("{}: files root reads (configuration, credentials) are measured", rec)));
  p.rules.push_back(make("measure func=MODULE_CHECK", fmt::format("{}: kernel modules are measured", rec)));
  p.rules.push_back(make("measure func=FIRMWARE_CHECK", fmt::format("{}: firmware is measured", rec)));
  p.rules.push_back(make("appraise fowner=0",
                         fmt::format("{}: every file owned by root is appraised against its label", rec)));
  for (auto path : {"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers",
                    "/etc/ssh/sshd_config", "/etc/crontab", "/etc/fstab", "/etc/pam.d/", "/boot/",
                    "/usr/bin/", "/usr/sbin/", "/usr/lib/", "/lib/modules/"})
    prof.watched.push_back({path, "CIS Ubuntu 20.04 v2.0.1 1.2.2"});
  return prof;
}

Profile k8s_worker() {
  constexpr std::string_view bench = "CIS Kubernetes Benchmark v1.8";
  Profile prof;
  prof.name = "k8s-worker";
  prof.title = fmt::format("{} worker node files (4.1.1-4.1.10) and the kubelet binaries", bench);
  Policy& p = prof.policy;
  add_pseudo_fs_skips(p, fmt::format("{} 4.1", bench));
  p.rules.push_back(make("measure func=BPRM_CHECK mask=MAY_EXEC",
                         fmt::format("{} 4.1: kubelet, kube-proxy and the container runtime are measured when run", bench)));
  p.rules.push_back(make("measure func=MMAP_CHECK mask=MAY_EXEC",
                         fmt::format("{} 4.1: the libraries they map executable are measured", bench)));
  p.rules.push_back(make("appraise func=BPRM_CHECK mask=MAY_EXEC fowner=0",
                         fmt::format("{} 4.1: a root-owned node binary that was changed does not run", bench)));
  add_tmpfs_skips(p, fmt::format("{} 4.1", bench));
  p.rules.push_back(make(
      "measure func=FILE_CHECK mask=^MAY_READ uid=0",
      fmt::format("{} 4.1.1, 4.1.3, 4.1.5, 4.1.7, 4.1.9: the kubelet service file, proxy kubeconfig, kubelet "
                  "kubeconfig, client CA file and kubelet config are measured when root reads them",
                  bench)));
  p.rules.push_back(make(
      "appraise fowner=0",
      fmt::format("{} 4.1.2, 4.1.4, 4.1.6, 4.1.8, 4.1.10: those files are owned by root:root; every "
                  "root-owned file is appraised, so an edit without relabelling is refused",
                  bench)));
  struct W {
    const char* path;
    const char* rec;
  };
  for (auto [path, rec] : {W{"/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", "4.1.1, 4.1.2"},
                           W{"/lib/systemd/system/kubelet.service", "4.1.1, 4.1.2"},
                           W{"/var/lib/kube-proxy/kubeconfig.conf", "4.1.3, 4.1.4"},
                           W{"/etc/kubernetes/proxy.conf", "4.1.3, 4.1.4"},
                           W{"/etc/kubernetes/kubelet.conf", "4.1.5, 4.1.6"},
                           W{"/etc/kubernetes/pki/ca.crt", "4.1.7, 4.1.8"},
                           W{"/var/lib/kubelet/config.yaml", "4.1.9, 4.1.10"},
                           W{"/usr/bin/kubelet", "4.1 (node binary)"},
                           W{"/usr/bin/containerd", "4.1 (node binary)"},
                           W{"/usr/sbin/runc", "4.1 (node binary)"}})
    prof.watched.push_back({path, fmt::format("{} {}", bench, rec)});
  return prof;
}

struct Entry {
  std::string_view name;
  Profile (*build)();
};
constexpr Entry kProfiles[] = {{"cis-ubuntu-20.04", cis_ubuntu}, {"k8s-worker", k8s_worker}};

}  // namespace

const std::vector<std::string_view>& profile_names() {
  static const std::vector<std::string_view> names{"cis-ubuntu-20.04", "k8s-worker"};
  return names;
}

Result<Profile> profile(std::string_view name) {
  for (const auto& e : kProfiles)
    if (e.name == name) return e.build();
  return fail(fmt::format("unknown profile `{}` (cis-ubuntu-20.04, k8s-worker)", name));
}

}  // namespace imashim::policy
