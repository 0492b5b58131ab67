// What the kernel backends share: the securityfs and procfs files they touch,
// behind one small interface (unit tests play the kernel's part: EBUSY,
// ENOENT, short writes), and the kernel's policy-file protocol.
//
// The kernel's IMA policy file takes one rule per write(): a write of several
// lines consumes only the first (a short write), a bad rule fails its write
// with EINVAL and marks the whole update invalid, and on close a valid update
// is loaded and (without CONFIG_IMA_WRITE_POLICY) the file disappears — one
// policy per boot. An invalid update is discarded on close and the file stays,
// which is what check_policy() uses to ask for verdicts without loading.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/os/fd.hpp"
#include "imashim/util/result.hpp"

namespace imashim::backends::kernel {

// The file operations of the kernel backends. Errors carry the errno.
class SysFiles {
 public:
  virtual ~SysFiles() = default;
  virtual Result<os::UniqueFd> open(const std::filesystem::path& path, int flags) = 0;
  // Like write(2): bytes written, or -1 with errno set.
  virtual ssize_t write(int fd, std::string_view data) = 0;
  virtual Result<std::string> read(const std::filesystem::path& path) = 0;
  virtual bool exists(const std::filesystem::path& path) = 0;
};
// The real files.
std::shared_ptr<SysFiles> real_sys_files();

// One line of a policy text that is a rule (not blank, not a comment).
struct PolicyLine {
  int line = 0;      // 1-based line number in the text
  std::string rule;  // without its newline
};
std::vector<PolicyLine> policy_rules(std::string_view text);

// The kernel's verdict on one rule.
struct RuleVerdict {
  PolicyLine rule;
  int error = 0;  // 0: accepted; otherwise the errno of its write (EINVAL: rejected)
  bool accepted() const { return error == 0; }
};

// Writes `rule` plus a newline with one write(), continuing after short writes.
Result<void> write_rule(SysFiles& files, int fd, std::string_view rule);

// Loads a policy into `policy_file`, one rule per write(). A rejected rule
// stops the load with an error naming its line; closing the file then makes the
// kernel discard the whole update.
Result<void> load_policy(SysFiles& files, const std::filesystem::path& policy_file,
                         std::string_view text);

// The kernel's verdict on every rule, loading nothing: accepted rules are
// written in one open that ends with a deliberately invalid rule (the kernel
// then discards the update and keeps the file); a rejected rule ends its open.
Result<std::vector<RuleVerdict>> check_policy(SysFiles& files,
                                              const std::filesystem::path& policy_file,
                                              std::string_view text);

// The value of `name=` on a kernel command line; "" for a bare `name`.
std::optional<std::string> cmdline_param(std::string_view cmdline, std::string_view name);

// Retries `op` while it fails with EBUSY: `attempts` tries, `delay_ms` apart.
// The securityfs writers of the IMA namespace patches share one busy bit.
template <typename Op>
auto retry_busy(int attempts, int delay_ms, Op op) -> decltype(op());
void sleep_ms(int ms);

template <typename Op>
auto retry_busy(int attempts, int delay_ms, Op op) -> decltype(op()) {
  for (int i = 1;; ++i) {
    auto r = op();
    if (r.ok() || r.error().sys_errno() != EBUSY || i >= attempts) return r;
    sleep_ms(delay_ms);
  }
}

}  // namespace imashim::backends::kernel
