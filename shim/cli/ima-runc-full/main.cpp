// ima-runc-full: ima-runc's full implementation (see docs/runtime.md), started by the
// front end (ima-runc) for the commands that need the IMA steps. Thin: all work is in shim/runtime.
#include <string>
#include <vector>

#include "imashim/runtime/ima_runc.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return imashim::runtime::ima_runc_main(std::move(args), imashim::runtime::default_pipeline());
}
