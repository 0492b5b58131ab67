// ima-runc: a runc-compatible OCI runtime that measures and appraises the
// container's files (see docs/runtime.md). Its front end built with the C
// library, for builds with sanitizers and machines main.cpp has no system
// calls for; otherwise main.cpp, which links none. It execs runc for what
// needs no IMA steps and ima-runc-full for the rest; the decision is
// shim/runtime/front_core.cpp, reached through shim/runtime/front.cpp.
#include <string>
#include <vector>

#include "imashim/runtime/front.hpp"

int main(int argc, char** argv) {
  return imashim::runtime::ima_runc_front_main(std::vector<std::string>(argv, argv + argc));
}
