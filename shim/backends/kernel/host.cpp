#include "imashim/backends/host.hpp"

#include "log_files.hpp"

namespace imashim::backends {
namespace {

namespace fs = std::filesystem;
constexpr const char* kLogs[] = {"binary_runtime_measurements", "ascii_runtime_measurements"};

// Appraisal is enforced unless ima_appraise= says off, log or fix.
bool appraise_enforced(const HostOptions& o) {
  auto cmdline = o.files->read(o.proc / "cmdline");
  if (!cmdline) return false;
  auto mode = kernel::cmdline_param(*cmdline, "ima_appraise");
  return !mode || (*mode != "off" && *mode != "log" && *mode != "fix");
}

Result<std::string> read_log(const HostOptions& o, const char* name) {
  auto log = o.files->read(o.securityfs / "ima" / name);
  if (!log) return std::move(log).with_context("host IMA log (is IMA enabled?)");
  return log;
}

}  // namespace

HostBackend::HostBackend(HostOptions options) : o_(std::move(options)) {}

Capabilities HostBackend::capabilities() const {
  return {.per_container_policy = false, .per_container_log = false, .enforce = appraise_enforced(o_)};
}

Result<Attachment> HostBackend::attach(const AttachRequest& request) {
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
  for (const char* name : kLogs) {
    IMASHIM_TRY(auto log, read_log(o_, name));
    auto key = std::string(name) + "_offset";
    std::size_t from = attachment.extra.contains(key) ? attachment.extra[key].get<std::size_t>() : 0;
    if (from > log.size()) return fail("host IMA log `" + std::string(name) + "` shrank since attach");
    IMASHIM_TRY_VOID(detail::write_log_file(request.log_dir / name, std::string_view(log).substr(from)));
  }
  return {};
}

Result<void> install_node_policy(const HostOptions& options, std::string_view policy_text) {
  auto r = kernel::load_policy(*options.files, options.securityfs / "ima" / "policy", policy_text);
  if (!r) return std::move(r).with_context("install the node's IMA policy");
  return {};
}

}  // namespace imashim::backends
