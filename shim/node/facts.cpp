#include "imashim/node/facts.hpp"
#include "imashim/os/file.hpp"

#include <sys/fanotify.h>
#include <sys/utsname.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace imashim::node {
namespace fs = std::filesystem;

namespace {

std::optional<std::string> read_text(const fs::path& p) {
  auto text = os::read_file(p);
  if (!text) return std::nullopt;
  return std::move(text).value();
}

std::string first_line(std::string s) {
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// "\040" → ' ' as the kernel escapes mount fields.
std::string unescape_octal(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        std::all_of(s.begin() + static_cast<long>(i) + 1, s.begin() + static_cast<long>(i) + 4,
                    [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string kernel_release(const NodeRoot& root) {
  if (auto t = read_text(root("/proc/sys/kernel/osrelease"))) return first_line(*t);
  if (!root.is_host()) return "";
  utsname u{};
  return ::uname(&u) == 0 ? u.release : "";
}

Observed<KernelConfig> load_kconfig(const NodeRoot& root, const std::string& release) {
  Observed<KernelConfig> out;
  std::vector<std::string> tried;
  if (!release.empty()) tried.push_back(root("/boot/config-" + release).string());
  tried.push_back(root("/proc/config.gz").string());
  for (const std::string& p : tried) {
    if (!path_exists(p)) continue;
    out.source = p;
    auto cfg = KernelConfig::load(p);
    if (cfg) out.value = std::move(*cfg);
    else out.error = cfg.error().message();
    return out;
  }
  out.source = fmt::format("{}", fmt::join(tried, " or "));
  out.error = "no kernel config found (tried " + out.source + ")";
  return out;
}

Observed<BootCmdline> load_cmdline(const NodeRoot& root) {
  Observed<BootCmdline> out;
  out.source = root("/proc/cmdline").string();
  if (auto t = read_text(out.source)) out.value = BootCmdline::parse(*t);
  else out.error = "cannot read " + out.source;
  return out;
}

// GRUB_CMDLINE_LINUX="..." from /etc/default/grub (the last assignment wins).
Observed<BootCmdline> load_grub(const NodeRoot& root) {
  Observed<BootCmdline> out;
  out.source = root("/etc/default/grub").string();
  auto text = read_text(out.source);
  if (!text) {
    out.error = "cannot read " + out.source;
    return out;
  }
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    constexpr std::string_view kKey = "GRUB_CMDLINE_LINUX=";
    if (!line.starts_with(kKey)) continue;
    std::string v = line.substr(kKey.size());
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    out.value = BootCmdline::parse(v);
  }
  if (!out.value) out.error = "no GRUB_CMDLINE_LINUX in " + out.source;
  return out;
}

std::vector<int> find_processes(const NodeRoot& root, std::string_view comm) {
  std::vector<int> pids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root("/proc"), ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    auto c = read_text(e.path() / "comm");
    if (c && first_line(*c) == comm) pids.push_back(std::stoi(name));
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::optional<fs::path> find_runc(const NodeRoot& root, const std::optional<fs::path>& configured) {
  if (configured) return path_exists(root(*configured)) ? configured : std::nullopt;
  for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    fs::path p = fs::path(dir) / "runc";
    if (path_exists(root(p))) return p;
  }
  return std::nullopt;
}

std::optional<bool> probe_fanotify(const NodeRoot& root) {
  if (!root.is_host()) return std::nullopt;
  int fd = ::fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY);
  if (fd < 0) return errno == EPERM ? std::nullopt : std::optional<bool>(false);
  ::close(fd);
  return true;
}

void gather_tpm(const NodeRoot& root, TpmFacts& tpm) {
  fs::path dir = root("/sys/class/tpm/tpm0");
  tpm.present = path_exists(dir);
  if (!tpm.present) return;
  if (auto v = read_text(dir / "tpm_version_major")) tpm.version_major = first_line(*v);
  if (auto v = read_text(dir / "pcr-sha256/10")) tpm.pcr10_sha256 = first_line(*v);
  if (auto v = read_text(dir / "pcr-sha1/10")) tpm.pcr10_sha1 = first_line(*v);
}

void gather_ima(const NodeRoot& root, NodeFacts& f) {
  for (const Mount& m : f.mounts)
    if (m.fstype == "securityfs") f.securityfs = m.target;
  fs::path sec = root(f.securityfs.value_or("/sys/kernel/security"));
  fs::path ima = sec / "ima";
  f.ima_dir = path_exists(ima);
  f.ima_namespaces = path_exists(ima / "namespaces");
  f.ima_active = path_exists(ima / "active");
  f.ima_log = ima / "binary_runtime_measurements";
  if (f.ima_dir) f.ima_policy_text = read_text(ima / "policy");
}

}  // namespace

fs::path NodeRoot::operator()(const fs::path& absolute) const {
  return is_host() ? absolute : root_ / absolute.relative_path();
}

bool Mount::has_option(std::string_view opt) const {
  return std::find(options.begin(), options.end(), opt) != options.end();
}

std::vector<Mount> parse_mounts(std::string_view text) {
  std::vector<Mount> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string src, target, type, opts;
    if (!(ls >> src >> target >> type >> opts)) continue;
    Mount m{unescape_octal(src), unescape_octal(target), type, {}};
    std::istringstream os(opts);
    for (std::string o; std::getline(os, o, ',');) m.options.push_back(o);
    out.push_back(std::move(m));
  }
  return out;
}

bool is_pseudo_fstype(std::string_view fstype) {
  static constexpr std::array<std::string_view, 25> kPseudo = {
      "rootfs",  // the initramfs
      "proc",     "sysfs",     "debugfs",   "tmpfs",      "ramfs",    "devpts",
      "devtmpfs", "securityfs", "selinuxfs", "smackfs",   "cgroup",   "cgroup2",
      "nsfs",     "binfmt_misc", "efivarfs", "bpf",        "tracefs",  "pstore",
      "configfs", "fusectl",   "mqueue",    "hugetlbfs",  "autofs",   "rpc_pipefs"};
  return std::find(kPseudo.begin(), kPseudo.end(), fstype) != kPseudo.end() ||
         fstype.starts_with("fuse.");
}

bool NodeFacts::has_filesystem(std::string_view fstype) const {
  return std::find(filesystems.begin(), filesystems.end(), fstype) != filesystems.end();
}

NodeFacts gather_facts(const GatherOptions& options) {
  NodeFacts f;
  f.root = NodeRoot(options.root);
  const NodeRoot& root = f.root;
  f.kernel_release = kernel_release(root);
  f.kernel_version = KernelVersion::parse(f.kernel_release);
  f.kconfig = load_kconfig(root, f.kernel_release);
  f.cmdline = load_cmdline(root);
  f.grub_cmdline = load_grub(root);
  auto mounts = read_text(root("/proc/self/mounts"));
  if (!mounts) mounts = read_text(root("/proc/mounts"));
  if (mounts) f.mounts = parse_mounts(*mounts);
  if (auto text = read_text(root("/proc/filesystems"))) {
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
      std::size_t tab = line.rfind('\t');
      f.filesystems.push_back(line.substr(tab == std::string::npos ? 0 : tab + 1));
    }
  }
  gather_ima(root, f);
  gather_tpm(root, f.tpm);
  f.auditd_pids = find_processes(root, "auditd");
  f.fanotify_probe = probe_fanotify(root);
  f.runc = find_runc(root, options.runc);
  f.engines = read_engine_configs(root.root());
  return f;
}

}  // namespace imashim::node
