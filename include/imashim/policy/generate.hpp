// The image-derived policy: from what an image holds (its files, owners, exec
// bits, ELF types), its OCI config, the container's annotations and the node's
// settings, the container's IMA policy. Every generated rule carries a comment
// saying why it is there.
//
// Annotations may tighten the node's policy, never loosen it:
//   org.imashim.mode     off|measure|log|enforce, at least as strict as the node's
//   org.imashim.profile  a built-in or profile whose do-rules are appended
//   org.imashim.policy   inline rules, validated, appended; dont_* actions and
//                        permit_directio (which weaken appraisal) are errors
// Appending is what makes tightening safe: the kernel takes the first matching
// rule per action class, so an appended rule only decides accesses the node's
// rules left undecided.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "imashim/formats/hash.hpp"
#include "imashim/label/manifest.hpp"
#include "imashim/policy/policy.hpp"
#include "imashim/util/result.hpp"

namespace imashim::policy {

// e_type of an ELF file; none for anything else.
enum class ElfType : std::uint8_t { none, relocatable, executable, shared_object, core };
std::string_view elf_type_name(ElfType t);
// Reads the ELF type from the first bytes of a file (at least 18 bytes needed).
ElfType elf_type_of(std::string_view header);

// One regular file of the image, as a manifest or a rootfs scan describes it.
struct ImageFile {
  std::string path;  // absolute inside the image: "/usr/bin/env"
  std::uint32_t mode = 0;
  std::uint32_t uid = 0, gid = 0;
  std::uint64_t size = 0;
  ElfType elf = ElfType::none;
  bool executable() const { return (mode & 0111) != 0; }
};

// An ImageFile from a manifest's fields (the labeller's manifest has no ELF
// type): names like lib*.so / *.so.N count as shared objects. `mode` may be a
// full st_mode; only the permission bits are kept.
ImageFile image_file_from_manifest(std::string path, std::uint32_t mode, std::uint32_t uid,
                                   std::uint32_t gid, std::uint64_t size);

// The files a container sees from its image layers' manifests, topmost layer
// first: the first manifest naming a path wins, as the overlay shows that
// layer's file. Sorted by path. What the labeller wrote is read back instead
// of walking the rootfs again on each create. A file that an upper layer
// deletes (overlay whiteout) still counts from the lower layer's manifest: it
// can only add an owner's appraise rule, never drop one.
std::vector<ImageFile> image_files_from_manifests(const std::vector<label::Manifest>& layers);

// Walks a rootfs without following symlinks or crossing into other
// filesystems; regular files only. Errors name the path.
Result<std::vector<ImageFile>> scan_rootfs(const std::filesystem::path& root);

// The parts of an OCI image config the generator reads.
struct ImageConfig {
  std::string user;  // "1000", "1000:1000", "app"
  std::vector<std::string> entrypoint, cmd;
  std::map<std::string, std::string> labels;
};
// Parses an OCI image config (the whole document with "config", or the bare
// "config" object).
Result<ImageConfig> parse_image_config(std::string_view json, std::string_view source);

// A mount of the container that is not image content.
struct Volume {
  std::string destination;
  bool writable = true;
  std::optional<std::uint64_t> fsmagic;  // its filesystem's magic, when known
  std::optional<Uuid> fsuuid;            // its filesystem's UUID, when known
};

// The container's integrity mode; the same ladder as the node config's.
enum class PolicyMode : std::uint8_t { off, measure, log, enforce };
std::string_view policy_mode_name(PolicyMode m);
std::optional<PolicyMode> policy_mode_from_name(std::string_view name);

struct NodeSettings {
  PolicyMode mode = PolicyMode::measure;
  formats::HashAlgo hash = formats::HashAlgo::sha256;  // the labels' algorithm
  std::string template_name = "ima-ng";
  std::string profile;       // a built-in or profile applied before the image rules ("" or "default": none)
  bool require_signatures = false;  // appraise_type=imasig on generated appraise rules
  std::optional<int> pcr;           // pcr= on generated measure rules
};

struct GenerateInput {
  std::vector<ImageFile> files;
  ImageConfig image;
  std::map<std::string, std::string> annotations;
  std::vector<Volume> volumes;
  NodeSettings node;
  KernelFeatures kernel;
};

struct Generated {
  Policy policy;
  PolicyMode mode = PolicyMode::measure;  // after annotations
  std::vector<std::string> notes;         // facts the operator may want (skipped files, ...)
};

inline constexpr std::string_view kAnnotationProfile = "org.imashim.profile";
inline constexpr std::string_view kAnnotationMode = "org.imashim.mode";
inline constexpr std::string_view kAnnotationPolicy = "org.imashim.policy";

Result<Generated> generate_policy(const GenerateInput& input);

// Appends `extra` to `base` so that it can only add measurement or appraisal.
// A rule that could weaken the result (a dont_* action, permit_directio) is an
// error naming `source` and the rule's line.
Result<void> append_tightening(Policy& base, const Policy& extra, std::string_view source);

}  // namespace imashim::policy
