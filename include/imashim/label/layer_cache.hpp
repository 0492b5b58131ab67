// Per-layer label cache: a layer (one overlay lower directory) is labelled once; later
// containers of the same image find its record and skip hashing.
//
// Identity of a layer directory: its device and inode numbers, plus a fingerprint that
// catches inode reuse and changes at the top of the layer: SHA-256 over the
// directory's birth time (statx), its mtime, and the sorted (name, inode, type, mtime)
// of its top-level entries. Labelling changes none of these (xattrs change only
// ctime). The cache is an accelerator, not a trust anchor: a stale hit can only leave
// files unlabelled, which appraisal refuses (missing-hash); it can never make a
// tampered file pass, since appraisal compares content with the label.
//
// Layout under the root (default /var/lib/imashim/layers):
//   <key>/manifest       the layer manifest (manifest.hpp)
//   <key>/record.json    {"version":1,"dev":..,"ino":..,"fingerprint":"..","path":"..",
//                         "algo":"sha256","keyid":"1a2b3c4d"|null,"files":N,"bytes":N,
//                         "manifest_digest":"sha256:..","labelled_at":unix-seconds}
//   <key>/lock           flock()ed while a layer is being labelled
// <key> is "<dev>-<ino>" in hex. The manifest is written first and the record last,
// each to a temp file, fsynced, renamed: the record exists only for a layer whose every
// file was labelled, and it names the digest of the manifest it belongs to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "imashim/formats/hash.hpp"
#include "imashim/label/labeller.hpp"
#include "imashim/label/manifest.hpp"
#include "imashim/os/fd.hpp"
#include "imashim/util/result.hpp"

namespace imashim::label {

inline constexpr const char* kDefaultLayerCacheRoot = "/var/lib/imashim/layers";

struct LayerIdentity {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::string fingerprint;  // hex SHA-256, see above

  std::string key() const;  // "<dev hex>-<ino hex>"
  bool operator==(const LayerIdentity&) const = default;
};

Result<LayerIdentity> layer_identity(const std::string& dir);

struct LayerRecord {
  LayerIdentity id;
  std::string path;  // where the layer was when labelled (informational)
  formats::HashAlgo algo = formats::HashAlgo::sha256;
  std::optional<std::uint32_t> keyid;  // signed layers
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::string manifest_digest;  // "sha256:<hex>"
  std::int64_t labelled_at = 0;
};

class LayerCache {
 public:
  explicit LayerCache(std::string root = kDefaultLayerCacheRoot) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  // The record of a fully labelled layer with this identity, algorithm and key id, whose
  // manifest is present and matches the recorded digest; nullopt otherwise.
  Result<std::optional<LayerRecord>> lookup(const LayerIdentity& id, formats::HashAlgo algo,
                                            std::optional<std::uint32_t> keyid) const;
  // Stores manifest, then record (see above).
  Result<void> store(const LayerRecord& record, const Manifest& manifest);
  // Removes the record (first) and the manifest of a layer.
  Result<void> forget(const LayerIdentity& id);
  std::string manifest_path(const LayerIdentity& id) const;
  std::string record_path(const LayerIdentity& id) const;
  Result<Manifest> manifest(const LayerIdentity& id) const;
  // An exclusive lock on the layer's entry (blocks): two runtimes starting containers of
  // one image label each layer once.
  Result<os::UniqueFd> lock(const LayerIdentity& id);

 private:
  std::string root_;
};

struct LayerResult {
  std::string dir;
  LayerIdentity id;
  bool from_cache = false;       // a record was found: nothing hashed
  LabelReport report;            // empty counts when from_cache (files/bytes from the record)
  std::string manifest_path;     // in the cache; empty when not stored (incomplete)
};

// Labels one layer directory once: a cache hit returns at once; otherwise labels (with
// the layer's lock held), and stores the record only when the report is complete and the
// layer's identity did not change during the run. `force` and check mode bypass the
// cache (check mode also compares with the cached manifest, if any: files added,
// removed or with another digest are findings).
Result<LayerResult> label_layer(const std::string& dir, const LabelOptions& options, LayerCache& cache);

// The layers of a mounted overlay: lower directories from /proc/self/mountinfo
// (topmost first, as the kernel orders them), and upper and work (empty when absent).
struct OverlayLayers {
  std::string mountpoint;
  std::vector<std::string> lower;
  std::string upper;
  std::string work;
};
// `merged`: the overlay's mount point (e.g. a bundle's rootfs). Error when it is not the
// root of an overlay mount.
Result<OverlayLayers> find_overlay_layers(const std::string& merged,
                                          const std::string& mountinfo = "/proc/self/mountinfo");
// Parses the super options of an overlay mountinfo line (exposed for tests).
Result<OverlayLayers> parse_overlay_options(std::string_view super_options);

// label_layer() for each lower directory of the overlay mounted at `merged`.
Result<std::vector<LayerResult>> label_overlay(const std::string& merged, const LabelOptions& options,
                                               LayerCache& cache);

}  // namespace imashim::label
