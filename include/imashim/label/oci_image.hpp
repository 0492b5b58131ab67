// Labels inside an image: `imactl image label OCI_LAYOUT[:TAG]` rewrites each layer
// tarball of an OCI image layout so that every regular file carries its label as a
// `SCHILY.xattr.security.ima` PAX record, then writes the new config (rootfs.diff_ids),
// manifest and index entry. Engines that unpack layers as root (containerd, docker,
// podman) set the xattrs while unpacking: every node gets labelled layers without
// hashing at container start. Old blobs stay in the layout (nothing is deleted).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/formats/hash.hpp"
#include "imashim/label/manifest.hpp"
#include "imashim/label/signer.hpp"
#include "imashim/util/result.hpp"

namespace imashim::label {

struct ImageLabelOptions {
  formats::HashAlgo algo = formats::HashAlgo::sha256;
  std::shared_ptr<const Signer> signer;  // v2 signatures instead of digests
  std::string manifest_dir;              // when set: <diff_id hex>.manifest per layer, written here
};

struct ImageLayerResult {
  std::string old_digest;  // "sha256:..." of the layer blob before
  std::string new_digest;  // and after
  std::string diff_id;     // "sha256:..." of the new uncompressed tar
  std::string media_type;
  std::uint64_t entries = 0;   // tar entries
  std::uint64_t labelled = 0;  // regular files that got a label
  Manifest manifest;           // every labelled file with its digest
};

struct ImageLabelResult {
  std::string ref;              // the tag ("" when the layout has one untagged manifest)
  std::string old_manifest;     // "sha256:..."
  std::string new_manifest;
  std::string new_config;
  std::vector<ImageLayerResult> layers;
};

// "DIR:TAG" → {DIR, TAG}; "DIR" → {DIR, ""}. A ':' before the last '/' is part of DIR.
std::pair<std::string, std::string> split_layout_ref(std::string_view ref);

// Labels the image `tag` of the OCI layout at `layout` (the only manifest when `tag` is
// empty). Errors name the layout, blob or entry and what is wrong.
Result<ImageLabelResult> label_oci_image(const std::string& layout, const std::string& tag,
                                         const ImageLabelOptions& options);

}  // namespace imashim::label
