// ima-runc: a runc-compatible OCI runtime that measures and appraises the
// container's files (see docs/runtime.md). This is its front end, a small
// static executable: it execs runc for what needs no IMA steps and
// ima-runc-full for the rest. Thin: the decision is in shim/runtime/front.cpp.
#include <string>
#include <vector>

#include "imashim/runtime/front.hpp"

int main(int argc, char** argv) {
  return imashim::runtime::ima_runc_front_main(std::vector<std::string>(argv, argv + argc));
}
