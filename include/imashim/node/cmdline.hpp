// The kernel command line (/proc/cmdline, GRUB_CMDLINE_LINUX): parameters as
// the kernel splits them (spaces outside double quotes; `key=value` or `key`).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imashim::node {

class BootCmdline {
 public:
  // Everything after a lone "--" belongs to init and is ignored, as the kernel does.
  static BootCmdline parse(std::string_view text);

  // The value of the last `key=value` (the kernel's parsers keep the last), or
  // "" for a bare `key`; nullopt when absent.
  std::optional<std::string> get(std::string_view key) const;
  bool has(std::string_view key) const { return get(key).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& params() const { return params_; }

  // Sets `key=value` (replacing every earlier occurrence) or appends it.
  void set(std::string_view key, std::string_view value);
  // Prints the parameters back, space separated, quoting values with spaces.
  std::string str() const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
  std::vector<bool> bare_;  // parallel to params_: written without '='
};

// Kernel release ordering: "5.4.0-42-generic" → {5, 4}. {0, 0} when unparsable.
struct KernelVersion {
  int major = 0;
  int minor = 0;
  static KernelVersion parse(std::string_view release);
  auto operator<=>(const KernelVersion&) const = default;
};

}  // namespace imashim::node
