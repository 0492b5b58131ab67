// ima-runc: a runc-compatible OCI runtime that measures and appraises the
// container's files (see docs/runtime.md). Thin: all work is in shim/runtime.
#include <string>
#include <vector>

#include "imashim/runtime/ima_runc.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return imashim::runtime::ima_runc_main(std::move(args), imashim::runtime::default_pipeline());
}
