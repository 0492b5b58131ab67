// Layer manifests (manifest.hpp).
#include "imashim/label/manifest.hpp"
#include "imashim/os/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "imashim/os/fd.hpp"

namespace imashim::label {

namespace {

constexpr std::string_view kHeader = "# imashim-manifest v1";

bool needs_escape(unsigned char c) { return c < 0x20 || c == 0x7f || c == '\\'; }

template <typename T>
bool parse_num(std::string_view s, T& out, int base = 10) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// Splits off the next space-separated field.
std::string_view next_field(std::string_view& rest) {
  auto sp = rest.find(' ');
  std::string_view f = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  return f;
}

Result<ManifestEntry> parse_line(std::string_view line) {
  ManifestEntry e;
  std::string_view rest = line;
  std::string_view digest = next_field(rest);
  auto colon = digest.find(':');
  if (colon == std::string_view::npos) return fail("digest `" + std::string(digest) + "` is not <algo>:<hex>");
  auto algo = formats::hash_algo_from_name(digest.substr(0, colon));
  if (!algo) return fail("unknown hash algorithm `" + std::string(digest.substr(0, colon)) + "`");
  e.algo = *algo;
  IMASHIM_TRY(e.digest, from_hex(digest.substr(colon + 1)));
  if (e.digest.size() != formats::digest_size(e.algo))
    return fail(fmt::format("{} digest has {} bytes, expected {}", formats::hash_algo_name(e.algo), e.digest.size(),
                            formats::digest_size(e.algo)));
  std::string_view size = next_field(rest), mode = next_field(rest), uid = next_field(rest), gid = next_field(rest);
  if (!parse_num(size, e.size)) return fail("bad size `" + std::string(size) + "`");
  if (!parse_num(mode, e.mode, 8)) return fail("bad mode `" + std::string(mode) + "`");
  if (!parse_num(uid, e.uid)) return fail("bad uid `" + std::string(uid) + "`");
  if (!parse_num(gid, e.gid)) return fail("bad gid `" + std::string(gid) + "`");
  IMASHIM_TRY(e.path, unescape_path(rest));
  if (e.path.empty() || e.path[0] != '/') return fail("path `" + std::string(rest) + "` does not start with '/'");
  return e;
}

}  // namespace

std::string escape_path(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    if (needs_escape(c))
      out += fmt::format("\\{:03o}", c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

Result<std::string> unescape_path(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); i++) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    unsigned v = 0;
    if (i + 3 >= text.size() || !parse_num(text.substr(i + 1, 3), v, 8) || v > 0xff)
      return fail(fmt::format("bad escape at byte {} of `{}`", i, text));
    out += static_cast<char>(v);
    i += 3;
  }
  return out;
}

void Manifest::sort() {
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
}

std::string Manifest::serialize() const {
  std::string out;
  out.reserve(64 + entries.size() * 128);
  out += kHeader;
  out += '\n';
  for (const auto& e : entries) {
    out += fmt::format("{}:{} {} {:o} {} {} {}\n", formats::hash_algo_name(e.algo), to_hex(e.digest), e.size, e.mode,
                       e.uid, e.gid, escape_path(e.path));
  }
  return out;
}

Result<Manifest> Manifest::parse(std::string_view text, std::string_view source) {
  Manifest m;
  std::size_t line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) return fail(fmt::format("{}: line {} is not terminated (truncated file?)", source, line_no + 1));
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    line_no++;
    if (line_no == 1) {
      if (line != kHeader) return fail(fmt::format("{}: not an imashim manifest (first line `{}`)", source, line));
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    auto e = parse_line(line);
    if (!e) return std::move(e).with_context(fmt::format("{}: line {}", source, line_no));
    m.entries.push_back(std::move(*e));
  }
  if (line_no == 0) return fail(fmt::format("{}: empty file, not an imashim manifest", source));
  if (!std::is_sorted(m.entries.begin(), m.entries.end(), [](const auto& a, const auto& b) { return a.path < b.path; }))
    m.sort();
  return m;
}

const ManifestEntry* Manifest::find(std::string_view path) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), path,
                             [](const ManifestEntry& e, std::string_view p) { return e.path < p; });
  return it != entries.end() && it->path == path ? &*it : nullptr;
}

std::string Manifest::digest() const {
  auto d = formats::hash_bytes(formats::HashAlgo::sha256, as_bytes(serialize()));
  return "sha256:" + (d ? to_hex(*d) : std::string());
}

Result<void> write_manifest(const std::string& path, const Manifest& manifest) {
  return write_file_atomic(path, manifest.serialize());
}

Result<Manifest> read_manifest(const std::string& path) {
  IMASHIM_TRY(std::string text, os::read_file(path));
  return Manifest::parse(text, path);
}

}  // namespace imashim::label
