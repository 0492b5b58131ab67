#include "imashim/node/kconfig.hpp"
#include "imashim/os/file.hpp"

#include <archive.h>

#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

namespace imashim::node {
namespace {

std::string_view strip_prefix(std::string_view option) {
  constexpr std::string_view kPrefix = "CONFIG_";
  if (option.starts_with(kPrefix)) option.remove_prefix(kPrefix.size());
  return option;
}

Result<std::string> gunzip(const std::filesystem::path& file) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_raw(a.get());
  if (archive_read_open_filename(a.get(), file.c_str(), 64 * 1024) != ARCHIVE_OK)
    return fail(fmt::format("gunzip `{}`: {}", file.string(), archive_error_string(a.get())));
  archive_entry* entry = nullptr;
  if (archive_read_next_header(a.get(), &entry) != ARCHIVE_OK)
    return fail(fmt::format("gunzip `{}`: {}", file.string(), archive_error_string(a.get())));
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
    if (n < 0)
      return fail(fmt::format("gunzip `{}`: {}", file.string(), archive_error_string(a.get())));
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

Result<std::string> read_maybe_gzip(const std::filesystem::path& file) {
  auto text = os::read_file(file);
  if (text.ok() && std::string_view(*text).starts_with("\x1f\x8b")) return gunzip(file);  // gzip magic
  return text;
}

Result<KernelConfig> KernelConfig::parse(std::string_view text) {
  KernelConfig cfg;
  std::size_t line_no = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;  // "# CONFIG_X is not set" = unset
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos || !line.starts_with("CONFIG_"))
      return fail(fmt::format("kernel config line {}: expected CONFIG_NAME=value, got `{}`", line_no, line));
    std::string_view value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    cfg.values_[std::string(strip_prefix(line.substr(0, eq)))] = std::string(value);
  }
  return cfg;
}

Result<KernelConfig> KernelConfig::load(const std::filesystem::path& file) {
  IMASHIM_TRY(std::string text, read_maybe_gzip(file));
  auto cfg = parse(text);
  if (!cfg) return std::move(cfg).with_context(file.string());
  return cfg;
}

std::optional<std::string> KernelConfig::value(std::string_view option) const {
  auto it = values_.find(strip_prefix(option));
  if (it == values_.end() || it->second == "n") return std::nullopt;
  return it->second;
}

bool KernelConfig::enabled(std::string_view option) const {
  auto v = value(option);
  return v && (*v == "y" || *v == "m");
}

}  // namespace imashim::node
