#include <catch2/catch.hpp>

#include "imashim/node/cmdline.hpp"
#include "imashim/node/kconfig.hpp"

using namespace imashim::node;

TEST_CASE("kernel config: options, strings, unset comments", "[node][kconfig]") {
  auto cfg = KernelConfig::parse(
      "#\n# Linux/x86 5.4.0 Kernel Configuration\n#\nCONFIG_IMA=y\nCONFIG_OVERLAY_FS=m\n"
      "CONFIG_IMA_DEFAULT_HASH=\"sha256\"\nCONFIG_IMA_MEASURE_PCR_IDX=10\n"
      "# CONFIG_IMA_WRITE_POLICY is not set\n\n");
  REQUIRE(cfg.ok());
  CHECK(cfg->enabled("CONFIG_IMA"));
  CHECK(cfg->enabled("IMA"));
  CHECK(cfg->enabled("OVERLAY_FS"));
  CHECK(*cfg->value("IMA_DEFAULT_HASH") == "sha256");
  CHECK(*cfg->value("CONFIG_IMA_MEASURE_PCR_IDX") == "10");
  CHECK_FALSE(cfg->value("IMA_WRITE_POLICY").has_value());
  CHECK_FALSE(cfg->enabled("IMA_READ_POLICY"));
  CHECK(cfg->size() == 4);
}

TEST_CASE("kernel config: a line that is not an option names its number", "[node][kconfig]") {
  auto cfg = KernelConfig::parse("CONFIG_IMA=y\nthis is not config\n");
  REQUIRE_FALSE(cfg.ok());
  CHECK(cfg.error().message() == "kernel config line 2: expected CONFIG_NAME=value, got `this is not config`");
}

TEST_CASE("kernel config: gzip (/proc/config.gz) and plain files", "[node][kconfig]") {
  auto gz = KernelConfig::load(IMASHIM_FIXTURES "/node/no-ima/proc/config.gz");
  REQUIRE(gz.ok());
  CHECK(gz->enabled("FANOTIFY_ACCESS_PERMISSIONS"));
  CHECK_FALSE(gz->enabled("INTEGRITY"));
  auto plain = KernelConfig::load(IMASHIM_FIXTURES "/node/ubuntu-20.04/boot/config-5.4.0-42-generic");
  REQUIRE(plain.ok());
  CHECK(*plain->value("IMA_DEFAULT_TEMPLATE") == "ima-ng");
  auto missing = KernelConfig::load("/nonexistent/config");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message().find("open `/nonexistent/config`") == 0);
}

TEST_CASE("boot command line: quoting, last value wins, init arguments ignored", "[node][cmdline]") {
  auto c = BootCmdline::parse("BOOT_IMAGE=/vmlinuz ro quiet ima_hash=sha1 dyndbg=\"file a.c +p\" ima_hash=sha256 -- single ima_policy=tcb\n");
  CHECK(*c.get("ima_hash") == "sha256");
  CHECK(*c.get("dyndbg") == "file a.c +p");
  CHECK(*c.get("ro") == "");
  CHECK_FALSE(c.has("ima_policy"));
  c.set("ima_hash", "sha512");
  c.set("ima_policy", "tcb|appraise_tcb");
  CHECK(c.str() == "BOOT_IMAGE=/vmlinuz ro quiet dyndbg=\"file a.c +p\" ima_hash=sha512 ima_policy=tcb|appraise_tcb");
}

TEST_CASE("kernel release ordering", "[node][cmdline]") {
  CHECK(KernelVersion::parse("5.4.0-42-generic") == KernelVersion{5, 4});
  CHECK(KernelVersion::parse("6.18.44-fc") > KernelVersion{6, 9});
  CHECK(KernelVersion::parse("6.1.0-13-amd64") >= KernelVersion{6, 1});
  CHECK(KernelVersion::parse("garbage") == KernelVersion{0, 0});
}
