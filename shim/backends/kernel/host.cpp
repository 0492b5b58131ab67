#include "imashim/backends/host.hpp"

#include <string>
#include <vector>

#include "imashim/formats/measurement_log.hpp"
#include "log_files.hpp"

namespace imashim::backends {
namespace {

namespace fs = std::filesystem;
constexpr const char* kBinaryLog = "binary_runtime_measurements";
constexpr const char* kAsciiLog = "ascii_runtime_measurements";
constexpr const char* kLogs[] = {kBinaryLog, kAsciiLog};

// The kernel's appraisal mode: ima_appraise= on the command line, enforce
// when absent (CONFIG_IMA_APPRAISE_BOOTPARAM's default); "" when the command
// line cannot be read.
std::string appraise_mode(const HostOptions& o) {
  auto cmdline = o.files->read(o.proc / "cmdline");
  if (!cmdline) return "";
  return kernel::cmdline_param(*cmdline, "ima_appraise").value_or("enforce");
}

// The kernel appraisal modes that give a container mode what it asks for:
// log needs appraisal verdicts, enforce needs refusals. `fix` rewrites bad
// labels instead of judging them, so it serves neither.
struct ModeNeed {
  Mode mode;
  std::vector<std::string_view> kernel_modes;
};
const std::vector<ModeNeed>& mode_needs() {
  static const std::vector<ModeNeed> needs{
      {Mode::log, {"enforce", "log"}},
      {Mode::enforce, {"enforce"}},
  };
  return needs;
}

Result<void> check_mode(const HostOptions& o, Mode mode) {
  auto kernel_mode = appraise_mode(o);
  for (const auto& need : mode_needs()) {
    if (need.mode != mode) continue;
    std::string wanted;
    for (auto m : need.kernel_modes) {
      if (m == kernel_mode) return {};
      wanted += (wanted.empty() ? "ima_appraise=" : " or ima_appraise=") + std::string(m);
    }
    auto seen = kernel_mode.empty() ? "`" + (o.proc / "cmdline").string() + "` cannot be read"
                                    : "the kernel runs with ima_appraise=" + kernel_mode;
    return fail("host: " + std::string(mode_name(mode)) + " mode needs " + wanted + " (the host policy's " +
                "appraisal mode; a container cannot change it), but " + seen);
  }
  return {};
}

Result<std::string> read_log(const HostOptions& o, const char* name) {
  auto log = o.files->read(o.securityfs / "ima" / name);
  if (!log) return std::move(log).with_context("host IMA log (is IMA enabled?)");
  return log;
}

// What the kernel appended to log `name` since attach recorded its size.
Result<std::string> log_since(const HostOptions& o, const Attachment& a, const char* name) {
  IMASHIM_TRY(auto log, read_log(o, name));
  auto key = std::string(name) + "_offset";
  std::size_t from = a.extra.contains(key) ? a.extra[key].get<std::size_t>() : 0;
  if (from > log.size()) return fail("host IMA log `" + std::string(name) + "` shrank since attach");
  return log.substr(from);
}

}  // namespace

HostBackend::HostBackend(HostOptions options) : o_(std::move(options)) {}

Capabilities HostBackend::capabilities() const {
  return {.per_container_policy = false, .per_container_log = false, .enforce = appraise_mode(o_) == "enforce"};
}

Result<Attachment> HostBackend::attach(const AttachRequest& request) {
  IMASHIM_TRY_VOID(check_mode(o_, request.mode));
  Attachment a;
  a.kind = Kind::host;
  a.extra = nlohmann::json::object();
  for (const char* name : kLogs) {
    IMASHIM_TRY(auto log, read_log(o_, name));
    a.extra[std::string(name) + "_offset"] = log.size();
  }
  a.extra["policy"] = request.policy_text.empty()
                          ? "none"
                          : "not loaded: mainline IMA has one host policy, set at node setup";
  return a;
}

Result<void> HostBackend::detach(const Attachment& attachment, const AttachRequest& request) {
  IMASHIM_TRY(auto binary, log_since(o_, attachment, kBinaryLog));
  IMASHIM_TRY_VOID(detail::write_log_file(request.log_dir / kBinaryLog, binary));
  // The ascii log is the binary slice as the kernel prints it: the kernel's two
  // logs are read at different moments while entries keep arriving, so their
  // slices could hold different entries. A slice imashim cannot parse falls
  // back to the kernel's ascii text since attach.
  auto ascii = formats::binary_to_ascii(as_bytes(binary));
  if (!ascii) ascii = log_since(o_, attachment, kAsciiLog);
  if (!ascii) return fail(std::move(ascii).error());
  return detail::write_log_file(request.log_dir / kAsciiLog, *ascii);
}

Result<void> install_node_policy(const HostOptions& options, std::string_view policy_text) {
  auto r = kernel::load_policy(*options.files, options.securityfs / "ima" / "policy", policy_text);
  if (!r) return std::move(r).with_context("install the node's IMA policy");
  return {};
}

}  // namespace imashim::backends
