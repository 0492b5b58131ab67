#include <catch2/catch.hpp>

#include "fake_securityfs.hpp"
#include "imashim/backends/host.hpp"
#include "imashim/backends/select.hpp"
#include "imashim/formats/measurement_log.hpp"
#include "imashim/formats/template.hpp"

using namespace imashim;
using namespace imashim::backends;
using imashim::testing::FakeSecurityFs;
using imashim::testing::TempDir;
namespace fs = std::filesystem;

TEST_CASE("host backend: the container's log is the host log written while attached", "[backends]") {
  TempDir t;
  auto fake = std::make_shared<FakeSecurityFs>(t.path() / "security");
  testing::write_text(t.path() / "proc" / "cmdline", "ima_appraise=log\n");
  testing::write_text(fake->ima() / "ascii_runtime_measurements", "10 a ima-ng sha256:1 boot_aggregate\n");
  testing::write_text(fake->ima() / "binary_runtime_measurements", "B0");
  HostBackend backend({.securityfs = fake->root(), .proc = t.path() / "proc", .files = fake});
  CHECK_FALSE(backend.capabilities().per_container_policy);
  CHECK_FALSE(backend.capabilities().enforce);  // ima_appraise=log
  AttachRequest req;
  req.policy_text = "measure func=BPRM_CHECK\n";
  req.log_dir = t.path() / "logs";
  auto a = backend.attach(req);
  REQUIRE(a.ok());
  CHECK(a->extra["policy"].get<std::string>().find("not loaded") != std::string::npos);
  testing::write_text(fake->ima() / "ascii_runtime_measurements",
                      "10 a ima-ng sha256:1 boot_aggregate\n10 b ima-ng sha256:2 /bin/sh\n");
  testing::write_text(fake->ima() / "binary_runtime_measurements", "B0B1");
  REQUIRE(backend.detach(*a, req).ok());
  CHECK(testing::read_text(req.log_dir / "ascii_runtime_measurements") == "10 b ima-ng sha256:2 /bin/sh\n");
  CHECK(testing::read_text(req.log_dir / "binary_runtime_measurements") == "B1");
}

namespace {
// One ima-ng entry of a host log: its binary bytes and the kernel's ascii line.
std::pair<std::string, std::string> host_entry(const std::string& path, std::uint8_t fill) {
  formats::Measurement m;
  m.path = path;
  m.digest = Bytes(32, fill);
  auto e = *formats::build_entry(*formats::builtin_template("ima-ng"), m);
  Bytes sha1(20, 0);
  auto v = *formats::view_of(e, sha1);
  sha1 = *formats::template_digest(formats::HashAlgo::sha1, v);
  v.template_digest = sha1;
  auto bin = formats::encode_binary_entry(v);
  return {std::string(bin.begin(), bin.end()), formats::format_ascii_entry(v)};
}
}  // namespace

TEST_CASE("host backend: the container's two logs hold the same entries though the kernel's are read apart",
          "[backends]") {
  TempDir t;
  auto fake = std::make_shared<FakeSecurityFs>(t.path() / "security");
  auto [boot_bin, boot_txt] = host_entry("boot_aggregate", 0x11);
  auto [sh_bin, sh_txt] = host_entry("/bin/sh", 0x22);
  auto [app_bin, app_txt] = host_entry("/app/run", 0x33);
  // At attach the binary log is read before /bin/sh is logged, the ascii log after.
  testing::write_text(fake->ima() / "binary_runtime_measurements", boot_bin);
  testing::write_text(fake->ima() / "ascii_runtime_measurements", boot_txt + sh_txt);
  HostBackend backend({.securityfs = fake->root(), .proc = t.path() / "proc", .files = fake});
  AttachRequest req;
  req.log_dir = t.path() / "logs";
  auto a = backend.attach(req);
  REQUIRE(a.ok());
  testing::write_text(fake->ima() / "binary_runtime_measurements", boot_bin + sh_bin + app_bin);
  testing::write_text(fake->ima() / "ascii_runtime_measurements", boot_txt + sh_txt + app_txt);
  REQUIRE(backend.detach(*a, req).ok());
  CHECK(testing::read_text(req.log_dir / "binary_runtime_measurements") == sh_bin + app_bin);
  CHECK(testing::read_text(req.log_dir / "ascii_runtime_measurements") == sh_txt + app_txt);
}

TEST_CASE("host backend: node policy install is one load; a second says why it fails", "[backends]") {
  TempDir t;
  auto fake = std::make_shared<FakeSecurityFs>(t.path() / "security");
  testing::write_text(fake->ima() / "policy", "");
  HostOptions o{.securityfs = fake->root(), .proc = t.path() / "proc", .files = fake};
  auto first = install_node_policy(o, "appraise func=BPRM_CHECK fowner=0\n");
  INFO((first.ok() ? std::string() : first.error().message()));
  REQUIRE(first.ok());
  fs::remove(fake->ima() / "policy");  // what the kernel does after a load
  auto again = install_node_policy(o, "appraise func=BPRM_CHECK fowner=0\n");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message().find("already loaded this boot") != std::string::npos);
}

TEST_CASE("host backend: log and enforce modes need the kernel's appraisal mode, else attach fails closed",
          "[backends]") {
  struct Row {
    const char* cmdline;
    Mode mode;
    bool attaches;
  };
  const Row rows[] = {
      {"ima_appraise=enforce", Mode::enforce, true},  {"quiet", Mode::enforce, true},  // absent: enforce
      {"ima_appraise=log", Mode::enforce, false},     {"ima_appraise=fix", Mode::enforce, false},
      {"ima_appraise=off", Mode::enforce, false},     {"ima_appraise=log", Mode::log, true},
      {"ima_appraise=enforce", Mode::log, true},      {"ima_appraise=fix", Mode::log, false},
      {"ima_appraise=off", Mode::measure, true},      {"ima_appraise=fix", Mode::measure, true},
  };
  for (const auto& row : rows) {
    TempDir t;
    auto fake = std::make_shared<FakeSecurityFs>(t.path() / "security");
    testing::write_text(t.path() / "proc" / "cmdline", std::string(row.cmdline) + "\n");
    testing::write_text(fake->ima() / "ascii_runtime_measurements", "");
    testing::write_text(fake->ima() / "binary_runtime_measurements", "");
    HostBackend backend({.securityfs = fake->root(), .proc = t.path() / "proc", .files = fake});
    AttachRequest req;
    req.mode = row.mode;
    auto a = backend.attach(req);
    INFO(row.cmdline << " mode " << mode_name(row.mode) << ": " << (a.ok() ? "attached" : a.error().message()));
    CHECK(a.ok() == row.attaches);
    if (!a.ok()) CHECK(a.error().message().find("ima_appraise=") != std::string::npos);
  }
  TempDir t;  // no readable command line: nothing to show that the kernel enforces
  auto fake = std::make_shared<FakeSecurityFs>(t.path() / "security");
  HostBackend backend({.securityfs = fake->root(), .proc = t.path() / "no-proc", .files = fake});
  AttachRequest req;
  req.mode = Mode::enforce;
  auto a = backend.attach(req);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message().find("cannot be read") != std::string::npos);
}

TEST_CASE("host backend: no IMA log is a clear attach error", "[backends]") {
  TempDir t;
  auto fake = std::make_shared<FakeSecurityFs>(t.path() / "security");
  HostBackend backend({.securityfs = fake->root(), .proc = t.path(), .files = fake});
  auto a = backend.attach(AttachRequest{});
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message().find("is IMA enabled?") != std::string::npos);
}

TEST_CASE("detect_backend prefers ns-mount, ns-user, host, then fanotify, with reasons", "[backends]") {
  TempDir t;
  DetectOptions o{.sys = t.path() / "sys", .proc = t.path() / "proc"};
  auto ima = o.sys / "kernel" / "security" / "ima";
  testing::write_text(o.proc / "cmdline", "quiet\n");
  auto d = detect_backend(o);
  CHECK(d.kind == Kind::fanotify);
  REQUIRE(d.rejected.size() == 3);
  CHECK(d.rejected[2].find("no IMA") != std::string::npos);
  testing::write_text(ima / "ascii_runtime_measurements", "");
  d = detect_backend(o);
  CHECK(d.kind == Kind::host);
  CHECK(d.reason.starts_with("host: "));
  testing::write_text(ima / "active", "");
  CHECK(detect_backend(o).kind == Kind::ns_user);
  testing::write_text(ima / "namespaces", "");
  d = detect_backend(o);
  CHECK(d.kind == Kind::ns_mount);
  CHECK(d.rejected.empty());
  CHECK(d.reason.find("enforce_ns") == std::string::npos);
  testing::write_text(o.proc / "cmdline", "ima_appraise=enforce_ns\n");
  CHECK(detect_backend(o).reason.find("enforced: ima_appraise=enforce_ns") != std::string::npos);
}

TEST_CASE("make_backend makes each kernel kind", "[backends]") {
  for (Kind k : {Kind::ns_mount, Kind::ns_user, Kind::host, Kind::fanotify}) {
    auto b = make_backend(k);
    REQUIRE(b.ok());
    CHECK((*b)->kind() == k);
  }
}
