#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "imashim/node/doctor.hpp"

using namespace imashim;
using namespace imashim::node;

namespace {
const CheckResult& check(const DoctorReport& r, std::string_view id) {
  auto it = std::find_if(r.checks.begin(), r.checks.end(), [&](const CheckResult& c) { return c.id == id; });
  REQUIRE(it != r.checks.end());
  return *it;
}
DoctorReport doctor_on(const char* fixture, backends::Mode mode,
                       std::optional<backends::Kind> backend = std::nullopt) {
  DoctorOptions o;
  o.gather.root = std::string(IMASHIM_FIXTURES "/node/") + fixture;
  o.mode = mode;
  o.backend = backend;
  return run_doctor(o);
}
}  // namespace

TEST_CASE("doctor: the CIS guide's Ubuntu 20.04 node gets the guide's fixes", "[node][doctor]") {
  DoctorReport r = doctor_on("ubuntu-20.04", backends::Mode::measure);
  const std::string grub =
      "set GRUB_CMDLINE_LINUX=\"ima_policy=tcb ima_template=ima-ng ima_hash=sha256 rootflags=i_version\" "
      "in /etc/default/grub, run update-grub and reboot";
  CHECK(r.boot_line == "ima_policy=tcb ima_template=ima-ng ima_hash=sha256 rootflags=i_version");
  CHECK(check(r, "kernel.ima").status == Status::ok);
  CHECK(check(r, "kernel.ima_write_policy").status == Status::warn);
  CHECK(check(r, "kernel.ima_write_policy").fix.starts_with("build the kernel with CONFIG_IMA_WRITE_POLICY=y"));
  CHECK(check(r, "kernel.ima_read_policy").fix == "build the kernel with CONFIG_IMA_READ_POLICY=y");
  CHECK(check(r, "ima.hash").status == Status::warn);
  CHECK(check(r, "ima.hash").detail == "sha1 (CONFIG_IMA_DEFAULT_HASH): too weak for file integrity");
  CHECK(check(r, "ima.hash").fix == grub);
  CHECK(check(r, "ima.template").status == Status::ok);
  CHECK(check(r, "boot.ima_policy").status == Status::warn);
  CHECK(check(r, "boot.ima_policy").fix == grub);
  CHECK(check(r, "fs.i_version").status == Status::warn);
  CHECK(check(r, "fs.i_version").detail.starts_with("no i_version on / (ext4), /var/lib/kubelet (ext4)"));
  CHECK(check(r, "tpm.present").status == Status::ok);
  CHECK(check(r, "tpm.pcr10").status == Status::warn);  // 5.4: no TPM 2.0 PCRs in sysfs
  CHECK(check(r, "audit.auditd").status == Status::warn);
  CHECK(check(r, "runtime.engines").detail == "containerd not set to use ima-runc");
  CHECK(r.backend.kind == backends::Kind::host);
  CHECK(r.ready());  // measure: warnings only
}

TEST_CASE("doctor: the guide's node is not ready to enforce without a boot policy", "[node][doctor]") {
  DoctorReport r = doctor_on("ubuntu-20.04", backends::Mode::enforce);
  CHECK(r.boot_line ==
        "ima_policy=tcb|appraise_tcb ima_template=ima-ng ima_hash=sha256 ima_appraise=fix rootflags=i_version");
  CHECK(check(r, "boot.ima_policy").status == Status::fail);
  CHECK_FALSE(r.ready());
}

TEST_CASE("doctor: a node without IMA is told to use the fanotify backend", "[node][doctor]") {
  DoctorReport r = doctor_on("no-ima", backends::Mode::enforce);
  CHECK(r.backend.kind == backends::Kind::fanotify);
  CHECK(r.backend.reason.find("host: no `") != std::string::npos);
  CHECK(r.backend.reason.find("the kernel has no IMA (CONFIG_IMA)") != std::string::npos);
  CHECK(check(r, "kernel.ima").status == Status::warn);
  CHECK(check(r, "kernel.ima_write_policy").status == Status::info);
  CHECK(check(r, "kernel.fanotify").status == Status::ok);
  CHECK(check(r, "fs.i_version").detail == "/ (ext4), /srv/data files (xfs)");
  CHECK(check(r, "audit.auditd").detail == "auditd running (pid 812)");
  CHECK(check(r, "runtime.engines").detail == "docker (runtime ima-runc, default); podman (runtime ima, default)");
  CHECK(r.ready());
}

TEST_CASE("doctor: a configured kernel backend fails where the kernel has no IMA", "[node][doctor]") {
  DoctorReport r = doctor_on("no-ima", backends::Mode::measure, backends::Kind::host);
  CHECK_FALSE(r.backend.kind.has_value());
  CHECK(check(r, "kernel.ima").status == Status::fail);
  CHECK(check(r, "backend").status == Status::fail);
  CHECK_FALSE(r.ready());
  auto j = r.to_json();
  CHECK(j["ready"] == false);
  CHECK(j["backend"].is_null());
}

TEST_CASE("doctor: mounts with escaped names; pseudo filesystems are skipped", "[node][doctor]") {
  auto m = parse_mounts("/dev/vdb /srv/a\\040b xfs rw,i_version 0 0\nproc /proc proc rw 0 0\n");
  REQUIRE(m.size() == 2);
  CHECK(m[0].target == "/srv/a b");
  CHECK(m[0].has_option("i_version"));
  CHECK(is_pseudo_fstype(m[1].fstype));
  CHECK_FALSE(is_pseudo_fstype("ext4"));
}

TEST_CASE("doctor: Debian's IMA kernel under QEMU: policy, TPM and PCR 10 replay", "[node][doctor]") {
  DoctorReport r = doctor_on("debian-qemu", backends::Mode::measure);
  CHECK(check(r, "kernel.ima").status == Status::ok);
  CHECK(check(r, "boot.ima_policy").detail == "ima_policy=tcb");
  CHECK(check(r, "ima.template").detail == "ima-ng (ima_template= on the boot line)");
  CHECK(check(r, "tpm.pcr10").status == Status::ok);
  CHECK(check(r, "tpm.pcr10").detail ==
        "PCR 10: sha1 equals the replay of 7 entries; sha256 equals the replay of 7 entries");
  CHECK(r.backend.kind == backends::Kind::host);
  CHECK(r.ready());
}

TEST_CASE("doctor: a log that does not replay to PCR 10 fails", "[node][doctor]") {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / "imashim-unit-doctor-tamper";
  fs::remove_all(root);
  fs::copy(IMASHIM_FIXTURES "/node/debian-qemu", root, fs::copy_options::recursive);
  fs::path log = root / "sys/kernel/security/ima/binary_runtime_measurements";
  std::string data;
  {
    std::ifstream in(log, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto at = data.find("prog2");  // a measured program's name, not the violation entry
  REQUIRE(at != std::string::npos);
  data[at + 4] = '9';
  std::ofstream(log, std::ios::binary | std::ios::trunc) << data;
  DoctorOptions o;
  o.gather.root = root;
  DoctorReport r = run_doctor(o);
  CHECK(check(r, "tpm.pcr10").status == Status::fail);
  CHECK(check(r, "tpm.pcr10").detail.find("differs from the replay") != std::string::npos);
  CHECK_FALSE(r.ready());
  fs::remove_all(root);
}
