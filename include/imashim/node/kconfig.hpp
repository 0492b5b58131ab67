// The kernel's build configuration, as /boot/config-<release> or
// /proc/config.gz (CONFIG_IKCONFIG_PROC) show it: `CONFIG_X=y|m|N|"string"`
// lines and `# CONFIG_X is not set` comments.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "imashim/util/result.hpp"

namespace imashim::node {

class KernelConfig {
 public:
  // Parses config text; a line that is neither an option, a comment nor blank
  // is an error naming its line number.
  static Result<KernelConfig> parse(std::string_view text);
  // Reads a plain or gzip-compressed (by its magic bytes) config file.
  static Result<KernelConfig> load(const std::filesystem::path& file);

  // The value of an option ("CONFIG_IMA" or "IMA"): "y", "m", a number, or a
  // string's content without quotes. nullopt when unset or absent.
  std::optional<std::string> value(std::string_view option) const;
  // True for "y" and "m".
  bool enabled(std::string_view option) const;
  std::size_t size() const { return values_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

// Reads a whole file, gunzipping it when it starts with the gzip magic.
Result<std::string> read_maybe_gzip(const std::filesystem::path& file);

}  // namespace imashim::node
