// ima-runc's front end: the decisions that need none of imashim's machinery,
// made by a small executable (`ima-runc`) so that runc's own commands (start,
// kill, state, ...) and containers in mode off cost one exec more than runc
// and nothing else. Everything else goes to the full implementation
// (`ima-runc-full`, next to it), which redoes the decision with every check.
//
// The decision is front_core.hpp: the same runc command line model as the
// full implementation (runc_model.hpp), and readers of the node config and
// the bundle's annotations that are stricter than the full implementation's:
// wherever the front end is not sure (a broken node config, a TPM block, an
// annotation of imashim's it does not read), the full implementation decides
// and reports. route_command() runs that decision with the C library, for
// the tests and for the front end of builds with sanitizers.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "imashim/runtime/front_core.hpp"

namespace imashim::runtime {

struct FrontRoute {
  enum class To { runc, full } to = To::full;
  std::filesystem::path runc;  // when to == runc, or start_runc
  bool start_runc = false;     // to == full: runc started first (front_core.hpp, Decision)
};

// Where `argv` goes: straight to runc (pass-through commands; create and run
// in mode off; delete of a container that has no imashim state), or to the
// full implementation.
FrontRoute route_command(const std::vector<std::string>& argv);

// The front end's whole program: execs runc or the full implementation.
// Returns only on failure (exit code, error already reported).
int ima_runc_front_main(std::vector<std::string> argv);

}  // namespace imashim::runtime
