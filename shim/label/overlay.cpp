// Finding an overlay mount's layers in mountinfo, and labelling its lower layers.
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "imashim/label/layer_cache.hpp"

namespace imashim::label {

namespace {

// Undoes the kernel's octal escapes (`\040`, `\072`, ...) and the overlay option
// escapes `\:` and `\\`.
std::string unescape_octal(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
        s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else if (s[i] == '\\' && i + 1 < s.size()) {
      out += s[++i];
    } else {
      out += s[i];
    }
  }
  return out;
}

// Splits on `sep` where it is not escaped by a backslash.
std::vector<std::string_view> split_unescaped(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\') {
      i++;
      continue;
    }
    if (s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < line.size()) {
    auto sp = line.find(' ', pos);
    if (sp == std::string_view::npos) sp = line.size();
    if (sp > pos) out.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return out;
}

std::string parent_dir(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : p.substr(0, slash);
}

// Relative lower directories (podman's "l/<id>" short links) are relative to the
// directory the mount was made from: the storage root, two levels above the upper
// directory ("<root>/<id>/diff").
void resolve_relative(OverlayLayers& l) {
  std::string base = l.upper.empty() ? std::string() : parent_dir(parent_dir(l.upper));
  for (auto& d : l.lower)
    if (!d.empty() && d[0] != '/' && !base.empty()) d = base + "/" + d;
}

}  // namespace

Result<OverlayLayers> parse_overlay_options(std::string_view super_options) {
  OverlayLayers l;
  for (std::string_view opt : split_unescaped(super_options, ',')) {
    auto eq = opt.find('=');
    std::string_view key = opt.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : opt.substr(eq + 1);
    if (key == "lowerdir" || key == "lowerdir+" || key == "datadir+") {
      for (std::string_view d : split_unescaped(value, ':'))
        if (!d.empty()) l.lower.push_back(unescape_octal(d));
    } else if (key == "upperdir") {
      l.upper = unescape_octal(value);
    } else if (key == "workdir") {
      l.work = unescape_octal(value);
    }
  }
  if (l.lower.empty()) return fail("overlay options name no lower directory");
  resolve_relative(l);
  return l;
}

Result<OverlayLayers> find_overlay_layers(const std::string& merged, const std::string& mountinfo) {
  char real[PATH_MAX];
  if (!::realpath(merged.c_str(), real)) return fail_errno("resolve `" + merged + "`");
  std::ifstream in(mountinfo);
  if (!in) return fail_errno("open `" + mountinfo + "`");
  std::optional<std::string> super;
  std::string line;
  while (std::getline(in, line)) {
    auto f = fields(line);
    std::size_t dash = 0;
    while (dash < f.size() && f[dash] != "-") dash++;
    if (f.size() < 5 || dash + 3 >= f.size()) continue;
    if (unescape_octal(f[4]) != real) continue;
    if (f[dash + 1] == "overlay")
      super = std::string(f[dash + 3]);
    else
      super.reset();  // a later mount on top of the overlay hides it
  }
  if (!super) return fail("`" + merged + "` is not the mount point of an overlay filesystem");
  auto layers = parse_overlay_options(*super);
  if (!layers) return std::move(layers).with_context("overlay at `" + merged + "`");
  layers->mountpoint = real;
  return layers;
}

Result<std::vector<LayerResult>> label_overlay(const std::string& merged, const LabelOptions& options, LayerCache& cache) {
  IMASHIM_TRY(OverlayLayers layers, find_overlay_layers(merged));
  std::vector<LayerResult> results;
  for (const auto& dir : layers.lower) {
    auto r = label_layer(dir, options, cache);
    if (!r) return std::move(r).with_context("layer `" + dir + "`");
    results.push_back(std::move(*r));
  }
  return results;
}

}  // namespace imashim::label
