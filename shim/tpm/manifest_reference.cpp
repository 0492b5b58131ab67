// Reference digests from layer manifests (the label module's format).
#include "imashim/label/manifest.hpp"
#include "imashim/tpm/reference.hpp"

namespace imashim::tpm {

Result<Reference> reference_from_manifests(const std::vector<std::filesystem::path>& manifests) {
  Reference ref;
  for (const auto& path : manifests) {
    IMASHIM_TRY(label::Manifest m, label::read_manifest(path.string()));
    for (const auto& e : m.entries) ref.add(e.path, e.digest);
  }
  return ref;
}

}  // namespace imashim::tpm
