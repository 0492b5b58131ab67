// ima-oci-hook: ima-runc's IMA steps as an OCI hook (see docs/runtime.md).
// Reads the OCI state from stdin; the stage is argv[1].
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "imashim/runtime/hook.hpp"

int main(int argc, char** argv) {
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  std::vector<std::string> args(argv, argv + argc);
  return imashim::runtime::oci_hook_main(args, input, imashim::runtime::default_pipeline());
}
