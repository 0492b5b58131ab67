// ima-runc-full: ima-runc's full implementation (see docs/runtime.md), started by the
// front end (ima-runc) for the commands that need the IMA steps. Thin: all work is in shim/runtime.
// Built twice (cmake/ima-runc-full.cmake): ima-runc-full, static and without
// TPM support, and ima-runc-tpm, with it, to which the first hands a node
// whose config has a `tpm` block.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "imashim/runtime/config.hpp"
#include "imashim/runtime/ima_runc.hpp"
#include "imashim/runtime/runc.hpp"
#include "imashim/runtime/runc_cli.hpp"

int main(int argc, char** argv) {
#ifdef IMASHIM_WITHOUT_TPM
  if (auto node = imashim::runtime::load_node_config(); node && node->tpm) {
    std::error_code ec;
    auto tpm = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "ima-runc-tpm";
    ::execv(tpm.c_str(), argv);
    std::string message = "the node config has a tpm block and " + tpm.string() + " cannot run: " + std::strerror(errno);
    if (auto cmd = imashim::runtime::parse_runc_command(std::vector<std::string>(argv, argv + argc)))
      imashim::runtime::report_error(*cmd, message);
    else
      std::fprintf(stderr, "ima-runc: %s\n", message.c_str());
    return 1;
  }
#endif
  std::vector<std::string> args(argv, argv + argc);
  return imashim::runtime::ima_runc_main(std::move(args), imashim::runtime::default_pipeline());
}
