// ima-runc-full is linked statically and without the TPM Software Stack
// (Debian ships tpm2-tss as shared libraries only): this open_tpm stands in
// for the ESAPI one. A node whose config has a `tpm` block never reaches it:
// main hands such commands to ima-runc-tpm, the same program linked with TPM.
#include "imashim/tpm/tpm.hpp"

namespace imashim::tpm {

Result<std::unique_ptr<Tpm>> open_tpm(const TpmOptions&) {
  return fail("this ima-runc-full is built without TPM support: ima-runc-tpm (next to it) serves nodes with a "
              "`tpm` block");
}

}  // namespace imashim::tpm
