#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "imashim/backends/kernel.hpp"
#include "imashim/os/file.hpp"

namespace imashim::backends::kernel {
namespace {

// A rule no kernel accepts (unknown action): it makes the update invalid.
constexpr std::string_view kDiscardRule = "imashim-discard-this-update";

class RealSysFiles final : public SysFiles {
 public:
  Result<os::UniqueFd> open(const std::filesystem::path& path, int flags) override {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return fail_errno("open `" + path.string() + "`");
    return os::UniqueFd(fd);
  }
  ssize_t write(int fd, std::string_view data) override { return ::write(fd, data.data(), data.size()); }
  Result<std::string> read(const std::filesystem::path& path) override { return os::read_file(path); }
  bool exists(const std::filesystem::path& path) override {
    std::error_code ec;
    return std::filesystem::exists(path, ec);
  }
};

std::string missing_policy_file(const std::filesystem::path& f) {
  return "policy file `" + f.string() +
         "` is missing: IMA is not enabled, or a policy was already loaded this boot "
         "(the kernel removes the file after a load)";
}

Result<os::UniqueFd> open_policy(SysFiles& files, const std::filesystem::path& f) {
  if (!files.exists(f)) return fail(missing_policy_file(f), ENOENT);
  return retry_busy(50, 20, [&] { return files.open(f, O_WRONLY); });
}

}  // namespace

std::shared_ptr<SysFiles> real_sys_files() { return std::make_shared<RealSysFiles>(); }

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::vector<PolicyLine> policy_rules(std::string_view text) {
  std::vector<PolicyLine> out;
  int n = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++n;
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    auto last = line.find_last_not_of(" \t\r");
    out.push_back({n, std::string(line.substr(first, last - first + 1))});
  }
  return out;
}

Result<void> write_rule(SysFiles& files, int fd, std::string_view rule) {
  std::string data = std::string(rule) + "\n";
  std::string_view rest = data;
  while (!rest.empty()) {
    ssize_t n = files.write(fd, rest);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("write rule `" + std::string(rule) + "`");
    if (n == 0) return fail("write rule `" + std::string(rule) + "`: the kernel took 0 bytes", EIO);
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> load_policy(SysFiles& files, const std::filesystem::path& policy_file,
                         std::string_view text) {
  auto rules = policy_rules(text);
  if (rules.empty()) return fail("policy for `" + policy_file.string() + "` has no rules");
  IMASHIM_TRY(auto fd, open_policy(files, policy_file));
  for (const auto& r : rules) {
    auto w = write_rule(files, fd.get(), r.rule);
    if (!w) return std::move(w).with_context("policy line " + std::to_string(r.line) + " rejected by `" +
                                             policy_file.string() + "` (the kernel discards the whole update)");
  }
  return {};
}

Result<std::vector<RuleVerdict>> check_policy(SysFiles& files, const std::filesystem::path& policy_file,
                                              std::string_view text) {
  auto rules = policy_rules(text);
  std::vector<RuleVerdict> verdicts;
  std::size_t i = 0;
  while (i < rules.size()) {
    IMASHIM_TRY(auto fd, open_policy(files, policy_file));
    bool invalid = false;
    while (i < rules.size() && !invalid) {
      auto w = write_rule(files, fd.get(), rules[i].rule);
      int err = w ? 0 : (w.error().sys_errno() ? w.error().sys_errno() : EIO);
      verdicts.push_back({rules[i++], err});
      invalid = err != 0;
    }
    if (invalid) continue;  // the update is already invalid: closing discards it
    if (write_rule(files, fd.get(), kDiscardRule))
      return fail("`" + policy_file.string() + "` accepted the invalid rule `" + std::string(kDiscardRule) +
                  "`: the rules written may have been loaded");
  }
  return verdicts;
}

std::optional<std::string> cmdline_param(std::string_view cmdline, std::string_view name) {
  std::optional<std::string> found;  // the kernel honours the last occurrence
  std::size_t pos = 0;
  while (pos < cmdline.size()) {
    auto start = cmdline.find_first_not_of(" \t\n", pos);
    if (start == std::string_view::npos) break;
    auto end = cmdline.find_first_of(" \t\n", start);
    std::string_view word = cmdline.substr(start, end - start);
    pos = end == std::string_view::npos ? cmdline.size() : end;
    if (word == name) found = "";
    else if (word.size() > name.size() && word.starts_with(name) && word[name.size()] == '=')
      found = std::string(word.substr(name.size() + 1));
  }
  return found;
}

}  // namespace imashim::backends::kernel
