#include <catch2/catch.hpp>

#include "imashim/policy/policy.hpp"

using namespace imashim;
using namespace imashim::policy;

namespace {
std::string canon(std::string_view text, const KernelFeatures& f = {}) {
  auto r = parse_rule(text, f, 1);
  REQUIRE(r.ok());
  return to_string(*r);
}
std::string error_of(std::string_view text, const KernelFeatures& f = {}) {
  auto r = parse_rule(text, f, 1);
  REQUIRE_FALSE(r.ok());
  return r.error().message();
}
}  // namespace

TEST_CASE("rules print back in the kernel's canonical order", "[policy][parser]") {
  CHECK(canon("measure mask=MAY_EXEC func=BPRM_CHECK") == "measure func=BPRM_CHECK mask=MAY_EXEC");
  CHECK(canon("dont_measure fsmagic=0x01021994") == "dont_measure fsmagic=0x1021994");
  CHECK(canon("appraise  fowner=0\tappraise_type=imasig") == "appraise fowner=0 appraise_type=imasig");
  CHECK(canon("measure func=FILE_MMAP mask=^MAY_READ euid=0") ==
        "measure func=MMAP_CHECK mask=^MAY_READ euid=0");
}

TEST_CASE("errors name line, column and token", "[policy][parser]") {
  CHECK(error_of("measure func=BPRM_CHECK bogus=1") == "1:25: error: unknown token `bogus=1`");
  CHECK(error_of("measure func=BPRM_CHECK func=FILE_CHECK") ==
        "1:25: error: duplicate `func=`: a rule takes it once");
  CHECK(error_of("func=BPRM_CHECK") ==
        "1:1: error: rule has no action (measure, dont_measure, appraise, dont_appraise, audit, hash, dont_hash)");
}

TEST_CASE("a policy parses line by line, comments attach to the next rule", "[policy][parser]") {
  auto out = parse_policy("# why\nmeasure func=BPRM_CHECK\n\n  # skip\n\nbad\nappraise fowner=0\n");
  REQUIRE(out.policy.rules.size() == 2);
  CHECK(out.policy.rules[0].comments == std::vector<std::string>{"why"});
  CHECK(out.policy.rules[1].line == 7);
  REQUIRE_FALSE(out.ok());
  CHECK(out.first_error()->format("p") == "p:6:1: error: unknown token `bad`");
}
