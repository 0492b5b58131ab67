#include "imashim/backends/ns_mount.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "log_files.hpp"

namespace imashim::backends {
namespace {

namespace fs = std::filesystem;

std::filesystem::path ima_dir(const NsMountOptions& o) { return o.securityfs / "ima"; }

bool enforce_ns(const NsMountOptions& o) {
  auto cmdline = o.files->read(o.proc / "cmdline");
  return cmdline && kernel::cmdline_param(*cmdline, "ima_appraise") == "enforce_ns";
}

// flock() on the node's lock file for as long as it lives.
class FileLock {
 public:
  static Result<FileLock> take(const fs::path& path) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return fail_errno("open lock file `" + path.string() + "`");
    FileLock lock(fd);
    while (::flock(fd, LOCK_EX) != 0)
      if (errno != EINTR) return fail_errno("lock `" + path.string() + "`");
    return lock;
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  os::UniqueFd fd_;
};

// The value an nid field's data encodes, as decimal text.
std::string nid_text(ByteView data) {
  std::string s(data.begin(), data.end());
  while (!s.empty() && s.back() == '\0') s.pop_back();
  if (s.starts_with("mnt-ns=")) return s.substr(7);
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) return s;
  if (data.size() == 4 || data.size() == 8) {
    std::uint64_t v = 0;
    for (std::size_t i = data.size(); i-- > 0;) v = (v << 8) | data[i];
    return std::to_string(v);
  }
  return {};
}

Result<std::uint32_t> read_u32(ByteView log, std::size_t& pos, std::string_view what) {
  if (log.size() - pos < 4)
    return fail("binary log: truncated " + std::string(what) + " at offset " + std::to_string(pos));
  std::uint32_t v = get_le32(log.data() + pos);
  pos += 4;
  return v;
}

Result<void> skip(ByteView log, std::size_t& pos, std::size_t n, std::string_view what) {
  if (log.size() - pos < n)
    return fail("binary log: " + std::string(what) + " of " + std::to_string(n) + " bytes at offset " +
                std::to_string(pos) + " runs past the end");
  pos += n;
  return {};
}

}  // namespace

NsMountBackend::NsMountBackend(NsMountOptions options) : o_(std::move(options)) {}

Capabilities NsMountBackend::capabilities() const {
  return {.per_container_policy = true, .per_container_log = true, .enforce = enforce_ns(o_)};
}

Result<std::string> mount_namespace_id(const fs::path& proc, pid_t pid) {
  auto link = proc / std::to_string(pid) / "ns" / "mnt";
  std::error_code ec;
  auto target = fs::read_symlink(link, ec).string();  // "mnt:[4026532451]"
  if (ec) return fail("read `" + link.string() + "`: " + ec.message(), ec.value());
  auto open = target.find('['), close = target.find(']');
  if (!target.starts_with("mnt:") || open == std::string::npos || close == std::string::npos || close <= open + 1)
    return fail("`" + link.string() + "` points to `" + target + "`, not mnt:[inode]");
  return target.substr(open + 1, close - open - 1);
}

Result<void> NsMountBackend::register_namespace(const std::string& nsid) {
  auto file = ima_dir(o_) / "namespaces";
  if (!o_.files->exists(file))
    return fail("`" + file.string() + "` is missing: this kernel has no IMA mount-namespace support", ENOENT);
  auto r = kernel::retry_busy(o_.busy_attempts, o_.busy_delay_ms, [&]() -> Result<void> {
    IMASHIM_TRY(auto fd, o_.files->open(file, O_WRONLY));
    if (o_.files->write(fd.get(), nsid) < 0) return fail_errno("write `" + nsid + "` to `" + file.string() + "`");
    return {};
  });
  if (r.ok()) return r;
  if (r.error().sys_errno() == ENOENT)
    return fail("register mount namespace " + nsid + ": no process lives in it (did the container's init exit?)",
                ENOENT);
  if (r.error().sys_errno() == EBUSY)
    return std::move(r).with_context("register mount namespace " + nsid + ": still busy after " +
                                      std::to_string(o_.busy_attempts) + " attempts");
  return std::move(r).with_context("register mount namespace " + nsid);
}

Result<Attachment> NsMountBackend::attach(const AttachRequest& request) {
  if (request.mode == Mode::enforce && !enforce_ns(o_))
    return fail("ns-mount: enforce mode needs ima_appraise=enforce_ns on the kernel command line");
  IMASHIM_TRY(auto nsid, mount_namespace_id(o_.proc, request.init_pid));
  IMASHIM_TRY(auto lock, FileLock::take(o_.lock_file));
  IMASHIM_TRY_VOID(register_namespace(nsid));
  auto policy = ima_dir(o_) / nsid / "policy";
  for (int waited = 0; !o_.files->exists(policy); waited += 10) {
    if (waited >= o_.policy_wait_ms) return fail("`" + policy.string() + "` did not appear after registration");
    kernel::sleep_ms(10);
  }
  auto loaded = kernel::retry_busy(o_.busy_attempts, o_.busy_delay_ms,
                                   [&] { return kernel::load_policy(*o_.files, policy, request.policy_text); });
  if (!loaded) {
    int err = loaded.error().sys_errno();
    if (err == EACCES || err == EPERM)
      return std::move(loaded).with_context("namespace " + nsid + ": its policy was already written (write-once)");
    return std::move(loaded).with_context("namespace " + nsid);
  }
  Attachment a;
  a.kind = Kind::ns_mount;
  a.nsid = nsid;
  a.extra = {{"securityfs", o_.securityfs.string()}, {"enforce_ns", enforce_ns(o_)}};
  return a;
}

Result<void> NsMountBackend::detach(const Attachment& attachment, const AttachRequest& request) {
  if (attachment.nsid.empty()) return fail("ns-mount detach: the attachment has no namespace id");
  IMASHIM_TRY(auto ascii, o_.files->read(ima_dir(o_) / "ascii_runtime_measurements"));
  IMASHIM_TRY(auto binary, o_.files->read(ima_dir(o_) / "binary_runtime_measurements"));
  IMASHIM_TRY(auto own, split_binary_log(as_bytes(binary), attachment.nsid));
  IMASHIM_TRY_VOID(detail::write_log_file(request.log_dir / "binary_runtime_measurements",
                                          std::string(own.begin(), own.end())));
  return detail::write_log_file(request.log_dir / "ascii_runtime_measurements",
                                split_ascii_log(ascii, attachment.nsid));
}

std::string split_ascii_log(std::string_view ascii, std::string_view nsid) {
  std::string want = "mnt-ns=" + std::string(nsid), out;
  while (!ascii.empty()) {
    auto nl = ascii.find('\n');
    auto line = ascii.substr(0, nl == std::string_view::npos ? ascii.size() : nl + 1);
    ascii.remove_prefix(line.size());
    // Fields: PCR, template digest, template name, then the template's fields.
    std::size_t pos = 0;
    for (int field = 0; field < 4 && pos != std::string_view::npos; ++field) {
      auto start = line.find_first_not_of(' ', pos);
      if (start == std::string_view::npos) break;
      auto end = line.find_first_of(" \n", start);
      auto token = line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
      if (field == 3 && token == want) out += line;
      pos = end;
    }
  }
  return out;
}

Result<Bytes> split_binary_log(ByteView log, std::string_view nsid) {
  Bytes out;
  std::size_t pos = 0;
  while (pos < log.size()) {
    std::size_t start = pos;
    IMASHIM_TRY(auto pcr, read_u32(log, pos, "PCR index"));
    (void)pcr;
    IMASHIM_TRY_VOID(skip(log, pos, 20, "template digest"));
    IMASHIM_TRY(auto name_len, read_u32(log, pos, "template name length"));
    if (name_len > 255) return fail("binary log: template name length " + std::to_string(name_len) +
                                    " at offset " + std::to_string(pos - 4) + " is not plausible");
    IMASHIM_TRY_VOID(skip(log, pos, name_len, "template name"));
    IMASHIM_TRY(auto data_len, read_u32(log, pos, "template data length"));
    std::size_t data = pos;
    IMASHIM_TRY_VOID(skip(log, pos, data_len, "template data"));
    if (data_len < 4) continue;
    std::uint32_t first = get_le32(log.data() + data);
    if (first > data_len - 4) continue;  // not a field-structured template
    if (nid_text(ByteView(log.data() + data + 4, first)) == nsid)
      out.insert(out.end(), log.begin() + static_cast<std::ptrdiff_t>(start),
                 log.begin() + static_cast<std::ptrdiff_t>(pos));
  }
  return out;
}

}  // namespace imashim::backends
