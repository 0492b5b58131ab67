// libFuzzer target for the policy parser. Beyond "does not crash", it checks
// the parser's contract: every rule it accepts prints to a canonical form that
// parses back to the same rule and prints identically, and evaluating the
// parsed policy terminates.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "imashim/policy/evaluate.hpp"
#include "imashim/policy/policy.hpp"

using namespace imashim::policy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  KernelFeatures features;
  if (size > 0 && data[0] % 3 == 0) features.version = KernelVersion{5, 10};
  ParseOutput out = parse_policy(text, features);
  for (const Rule& r : out.policy.rules) {
    std::string canon = to_string(r);
    auto again = parse_rule(canon, features);
    if (!again.ok() || !(*again == r) || to_string(*again) != canon) __builtin_trap();
    if (validate_rule(r, features).has_value()) __builtin_trap();
  }
  Access access;
  access.func = size > 1 ? static_cast<Func>(data[1] % 16) : Func::file_check;
  access.mask = size > 2 ? data[2] & 0xf : kMayRead;
  access.fowner = size > 3 ? data[3] : 0;
  (void)evaluate(out.policy, access);
  return 0;
}
