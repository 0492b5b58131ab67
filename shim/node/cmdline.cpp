#include "imashim/node/cmdline.hpp"

#include <charconv>

namespace imashim::node {

BootCmdline BootCmdline::parse(std::string_view text) {
  BootCmdline out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t')) ++i;
    if (i >= text.size()) break;
    std::string word;
    bool quoted = false;
    for (; i < text.size(); ++i) {
      char c = text[i];
      if (c == '"') { quoted = !quoted; continue; }
      if (!quoted && (c == ' ' || c == '\n' || c == '\t')) break;
      word += c;
    }
    if (word == "--") break;
    std::size_t eq = word.find('=');
    out.params_.emplace_back(word.substr(0, eq), eq == std::string::npos ? "" : word.substr(eq + 1));
    out.bare_.push_back(eq == std::string::npos);
  }
  return out;
}

std::optional<std::string> BootCmdline::get(std::string_view key) const {
  for (auto it = params_.rbegin(); it != params_.rend(); ++it)
    if (it->first == key) return it->second;
  return std::nullopt;
}

void BootCmdline::set(std::string_view key, std::string_view value) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].first != key) continue;
    params_.erase(params_.begin() + static_cast<std::ptrdiff_t>(i));
    bare_.erase(bare_.begin() + static_cast<std::ptrdiff_t>(i));
    --i;
  }
  params_.emplace_back(std::string(key), std::string(value));
  bare_.push_back(false);
}

std::string BootCmdline::str() const {
  std::string out;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!out.empty()) out += ' ';
    out += params_[i].first;
    if (bare_[i]) continue;
    const std::string& v = params_[i].second;
    out += '=';
    out += v.find(' ') == std::string::npos ? v : '"' + v + '"';
  }
  return out;
}

KernelVersion KernelVersion::parse(std::string_view release) {
  KernelVersion v;
  const char* p = release.data();
  const char* end = p + release.size();
  auto r = std::from_chars(p, end, v.major);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != '.') return {};
  r = std::from_chars(r.ptr + 1, end, v.minor);
  if (r.ec != std::errc()) return {};
  return v;
}

}  // namespace imashim::node
