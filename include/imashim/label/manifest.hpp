// A layer manifest: one line per regular file with its digest, the reference
// digests that appraisal and attestation compare against.
//
// Text format (UTF-8 or raw bytes, '\n'-terminated lines, sorted by path):
//   # imashim-manifest v1
//   <algo>:<hex digest> <size> <mode, octal, 0100644> <uid> <gid> <path>
// The path is relative to the layer root with a leading '/', and is the last field:
// it may contain spaces. Bytes < 0x20, 0x7f and '\' are written as '\' + 3 octal
// digits (as /proc/self/mountinfo does), so every line is one entry.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/formats/hash.hpp"
#include "imashim/os/file.hpp"
#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::label {

struct ManifestEntry {
  std::string path;  // "/usr/bin/ls"
  std::uint64_t size = 0;
  std::uint32_t mode = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  formats::HashAlgo algo = formats::HashAlgo::sha256;
  Bytes digest;
};

class Manifest {
 public:
  std::vector<ManifestEntry> entries;

  // Sorts by path (serialize() and find() need it).
  void sort();
  // The text above; entries must be sorted.
  std::string serialize() const;
  // Strict: a bad line is an error naming `source` and the line number.
  static Result<Manifest> parse(std::string_view text, std::string_view source = "manifest");
  // The entry for `path` ("/usr/bin/ls"), or nullptr. Entries must be sorted.
  const ManifestEntry* find(std::string_view path) const;
  // "sha256:<hex>" of serialize(): the manifest's identity in cache records and attestation.
  std::string digest() const;
};

// Writes the manifest to `path` atomically and durably: a temp file in the same
// directory, fsync, rename, fsync of the directory. A reader sees the old file or
// the complete new one, never a part.
Result<void> write_manifest(const std::string& path, const Manifest& manifest);
Result<Manifest> read_manifest(const std::string& path);

// The same atomic, durable write, for the layer cache and OCI layouts.
using os::write_file_atomic;

// Path escaping of the manifest format.
std::string escape_path(std::string_view path);
Result<std::string> unescape_path(std::string_view text);

}  // namespace imashim::label
