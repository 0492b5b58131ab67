#include "imashim/runtime/bundle.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "context.hpp"

namespace imashim::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Result<std::string> read_file(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return fail_errno(p.string());
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// A relative path that, normalized, climbs out of its base.
bool escapes(const fs::path& relative) {
  auto norm = relative.lexically_normal();
  return !norm.empty() && *norm.begin() == "..";
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto octal = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '7'; };
    if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 3)), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == sep) {  // overlayfs escapes ':' in lowerdir as "\:"
      cur += sep;
      ++i;
    } else if (s[i] == sep) {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += s[i];
    }
  }
  out.push_back(std::move(cur));
  return out;
}

void read_overlay_options(std::string_view options, Layers& layers) {
  for (const auto& opt : split(options, ',')) {
    if (opt.starts_with("lowerdir="))
      for (const auto& dir : split(std::string_view(opt).substr(9), ':')) layers.lower.emplace_back(dir);
    else if (opt.starts_with("upperdir="))
      layers.upper = opt.substr(9);
  }
}

}  // namespace

Result<Annotations> read_annotations(const json& config) {
  Annotations out;
  if (!config.contains("annotations")) return out;
  const auto& a = config["annotations"];
  if (!a.is_object()) return fail("config.json: \"annotations\" is not an object");
  for (const auto& [k, v] : a.items()) {
    if (!v.is_string()) return fail(fmt::format("config.json: annotation \"{}\" is not a string", k));
    out[k] = v.get<std::string>();
  }
  return out;
}

Result<Bundle> load_bundle(const fs::path& dir) {
  Bundle b;
  std::error_code ec;
  b.dir = fs::absolute(dir, ec).lexically_normal();
  struct stat st {};
  if (::stat(b.dir.c_str(), &st) != 0) return fail_errno(fmt::format("bundle {}", b.dir.string()));
  if (!S_ISDIR(st.st_mode)) return fail(fmt::format("bundle {}: not a directory", b.dir.string()));
  auto config_path = b.dir / "config.json";
  IMASHIM_TRY(auto text, in_context(read_file(config_path), "bundle config"));
  b.config = json::parse(text, nullptr, false);
  if (b.config.is_discarded() || !b.config.is_object())
    return fail(fmt::format("bundle config {}: not a valid JSON object", config_path.string()));
  const json* root = b.config.contains("root") ? &b.config["root"] : nullptr;
  if (!root || !root->is_object() || !root->contains("path") || !(*root)["path"].is_string())
    return fail(fmt::format("bundle config {}: \"root.path\" missing or not a string", config_path.string()));
  fs::path rp = (*root)["path"].get<std::string>();
  if (rp.empty()) return fail(fmt::format("bundle config {}: \"root.path\" is empty", config_path.string()));
  if (rp.is_relative()) {
    if (escapes(rp))
      return fail(fmt::format("bundle config {}: root.path \"{}\" escapes the bundle", config_path.string(),
                              rp.string()));
    b.rootfs = (b.dir / rp).lexically_normal();
  } else {
    b.rootfs = rp.lexically_normal();
  }
  if (::stat(b.rootfs.c_str(), &st) != 0) return fail_errno(fmt::format("rootfs {}", b.rootfs.string()));
  if (!S_ISDIR(st.st_mode)) return fail(fmt::format("rootfs {}: not a directory", b.rootfs.string()));
  b.rootfs_readonly = root->value("readonly", false);
  IMASHIM_TRY(b.annotations, in_context(read_annotations(b.config), config_path.string()));
  return b;
}

Result<Layers> find_layers_in(std::string_view mountinfo, const fs::path& rootfs) {
  Layers layers;
  layers.rootfs = rootfs;
  std::istringstream in{std::string(mountinfo)};
  std::string line;
  while (std::getline(in, line)) {
    // id parent maj:min root mountpoint options [optional...] - fstype source superoptions
    std::istringstream f(line);
    std::string id, parent, dev, root, mountpoint;
    f >> id >> parent >> dev >> root >> mountpoint;
    if (unescape(mountpoint) != rootfs.string()) continue;
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype, source, options;
    tail >> fstype >> source >> options;
    Layers found;  // later lines are mounted on top: the last one wins
    found.rootfs = rootfs;
    if (fstype == "overlay") {
      found.overlay = true;
      read_overlay_options(unescape(options), found);
    }
    layers = std::move(found);
  }
  return layers;
}

Result<Layers> find_layers(const fs::path& rootfs) {
  IMASHIM_TRY(auto text, read_file("/proc/self/mountinfo"));
  std::error_code ec;
  auto real = fs::canonical(rootfs, ec);
  if (ec) return fail(fmt::format("rootfs {}: {}", rootfs.string(), ec.message()));
  return find_layers_in(text, real);
}

}  // namespace imashim::runtime
