// Reference digests a verifier compares measured files against: the image's
// layer manifests, or a Keylime runtime policy. Also the Keylime export.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/formats/hash.hpp"
#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::tpm {

// What a measured (path, digest) is, against a reference.
enum class FileVerdict { ok, unknown_file, wrong_digest, excluded };
std::string_view verdict_name(FileVerdict verdict);  // "ok", "unknown file", "wrong digest", "excluded"

class Reference {
 public:
  // Accepts `digest` for `path` (several digests per path are allowed: layers, releases).
  void add(const std::string& path, ByteView digest);
  // Paths matching `regex` from their start (Keylime's `excludes`) are not checked.
  Result<void> add_exclude(const std::string& regex);
  FileVerdict check(std::string_view path, ByteView digest) const;
  std::size_t paths() const { return digests_.size(); }
  // path -> accepted digests, hex.
  const std::map<std::string, std::vector<std::string>, std::less<>>& digests() const { return digests_; }
  const std::vector<std::string>& excludes() const { return exclude_text_; }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> digests_;
  std::vector<std::string> exclude_text_;
  std::vector<std::regex> excludes_;
};

// The union of layer manifests (imashim-manifest v1, from `imactl label --manifest`).
// A path in several layers accepts each layer's digest.
Result<Reference> reference_from_manifests(const std::vector<std::filesystem::path>& manifests);

// A Keylime runtime policy (meta.version 1): digests and excludes; the other
// members are checked for presence and type.
Result<Reference> reference_from_keylime(std::string_view json_text, std::string_view source);

struct KeylimeExportOptions {
  std::vector<std::string> excludes;  // regexes, copied to `excludes`
  std::uint64_t release = 0;
  std::string log_hash_alg = "sha1";  // the log's template hash (the kernel's is sha1)
};

// A Keylime runtime policy (schema of keylime.ima.ima.RUNTIME_POLICY_SCHEMA,
// version 1) whose digests are the reference's.
nlohmann::json keylime_policy(const Reference& reference, const KeylimeExportOptions& options);

}  // namespace imashim::tpm
