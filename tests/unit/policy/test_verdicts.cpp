// The verdict table the real-kernel suite (tests/kernel) replays on Debian 12's
// 6.1 kernel: imashim's parser must reach the same verdict on every line.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "imashim/policy/policy.hpp"

using namespace imashim::policy;

TEST_CASE("verdict table: imashim's verdicts for Debian 12's 6.1 kernel", "[policy][verdicts]") {
  std::ifstream in(std::string(IMASHIM_FIXTURES) + "/policy/verdicts.tsv");
  REQUIRE(in);
  // Debian 12's kernel: CONFIG_IMA_APPRAISE_MODSIG off, CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS on.
  KernelFeatures debian;
  debian.version = KernelVersion{6, 1};
  debian.modsig = false;
  debian.asymmetric_keys = true;
  debian.lsm_rules = false;
  int lines = 0, accepts = 0, rejects = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++lines;
    auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    std::string want = line.substr(0, tab), rule = line.substr(tab + 1);
    REQUIRE((want == "accept" || want == "reject"));
    (want == "accept" ? accepts : rejects)++;
    auto r = parse_rule(rule, debian, lines);
    INFO("line " << lines << ": " << rule << (r.ok() ? "" : " -> " + r.error().message()));
    CHECK((r.ok() ? "accept" : "reject") == want);
  }
  CHECK(lines >= 30);
  CHECK(accepts >= 10);
  CHECK(rejects >= 10);
}

TEST_CASE("kernel targets by name", "[policy][verdicts]") {
  auto d = kernel_target("debian-12");
  REQUIRE(d.ok());
  CHECK(d->version == KernelVersion{6, 1});
  CHECK_FALSE(d->modsig);
  CHECK(d->asymmetric_keys);
  auto v = kernel_target("5.10");
  REQUIRE(v.ok());
  CHECK(v->version == KernelVersion{5, 10});
  CHECK(v->modsig);
  auto bad = kernel_target("debian-13");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() == "kernel `debian-13`: expected MAJOR.MINOR (e.g. 6.1) or debian-12");
}
