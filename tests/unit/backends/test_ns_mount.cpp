#include <catch2/catch.hpp>

#include <unistd.h>

#include "fake_securityfs.hpp"
#include "imashim/backends/ns_mount.hpp"
#include "imashim/formats/template.hpp"
#include "imashim/util/bytes.hpp"

using namespace imashim;
using namespace imashim::backends;
using imashim::testing::FakeSecurityFs;
using imashim::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// A fake /proc with one process whose mount namespace is `nsid`.
struct Node {
  TempDir t;
  std::shared_ptr<FakeSecurityFs> fake = std::make_shared<FakeSecurityFs>(t.path() / "security");
  fs::path proc = t.path() / "proc";
  NsMountOptions options() {
    NsMountOptions o;
    o.securityfs = fake->root();
    o.proc = proc;
    o.lock_file = t.path() / "run" / "ns-mount.lock";
    o.busy_delay_ms = 1;
    o.policy_wait_ms = 50;
    o.files = fake;
    return o;
  }
  Node(const std::string& nsid = "4026532451", const std::string& cmdline = "quiet\n") {
    fs::create_directories(proc / "42" / "ns");
    fs::create_symlink("mnt:[" + nsid + "]", proc / "42" / "ns" / "mnt");
    testing::write_text(proc / "cmdline", cmdline);
    testing::write_text(fake->ima() / "namespaces", "");
    testing::write_text(fake->ima() / "ascii_runtime_measurements", "");
    testing::write_text(fake->ima() / "binary_runtime_measurements", "");
    fake->live_namespaces.insert(nsid);
    fake->policy_write_once = true;
  }
  AttachRequest request(Mode mode = Mode::measure) {
    AttachRequest r;
    r.container_id = "c1";
    r.init_pid = 42;
    r.mode = mode;
    r.policy_text = "measure func=BPRM_CHECK\nmeasure func=FILE_CHECK mask=MAY_READ\n";
    r.log_dir = t.path() / "logs";
    return r;
  }
};

// One binary log entry: PCR 10, a digest, the template name, fields with u32 lengths.
void add_entry(Bytes& log, const std::string& name, const std::vector<Bytes>& fields) {
  Bytes data;
  for (const auto& f : fields) {
    put_le32(data, static_cast<std::uint32_t>(f.size()));
    data.insert(data.end(), f.begin(), f.end());
  }
  put_le32(log, 10);
  log.insert(log.end(), 20, 0xab);
  put_le32(log, static_cast<std::uint32_t>(name.size()));
  log.insert(log.end(), name.begin(), name.end());
  put_le32(log, static_cast<std::uint32_t>(data.size()));
  log.insert(log.end(), data.begin(), data.end());
}
Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
Bytes le32(std::uint32_t v) {
  Bytes b;
  put_le32(b, v);
  return b;
}

}  // namespace

TEST_CASE("ns-mount registers the init's mount namespace and writes its policy rule by rule", "[backends]") {
  Node node;
  NsMountBackend backend(node.options());
  auto a = backend.attach(node.request());
  REQUIRE(a.ok());
  CHECK(a->kind == Kind::ns_mount);
  CHECK(a->nsid == "4026532451");
  CHECK(node.fake->writes[(node.fake->ima() / "namespaces").string()] == std::vector<std::string>{"4026532451"});
  auto policy = node.fake->ima() / "4026532451" / "policy";
  CHECK(node.fake->writes[policy.string()].size() == 2);
  CHECK(testing::read_text(policy) == "measure func=BPRM_CHECK\nmeasure func=FILE_CHECK mask=MAY_READ\n");
}

TEST_CASE("ns-mount retries EBUSY on the namespaces file, then gives up with a count", "[backends]") {
  Node node;
  node.fake->write_errors["namespaces"] = {EBUSY, EBUSY, EBUSY};
  {
    NsMountBackend backend(node.options());
    REQUIRE(backend.attach(node.request()).ok());
  }
  Node busy;
  busy.fake->write_errors["namespaces"] = std::deque<int>(10, EBUSY);
  auto o = busy.options();
  o.busy_attempts = 5;
  NsMountBackend backend(o);
  auto a = backend.attach(busy.request());
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().sys_errno() == EBUSY);
  CHECK(a.error().message().find("still busy after 5 attempts") != std::string::npos);
}

TEST_CASE("ns-mount: ENOENT means no process lives in the namespace", "[backends]") {
  Node node;
  node.fake->live_namespaces.clear();
  NsMountBackend backend(node.options());
  auto a = backend.attach(node.request());
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().sys_errno() == ENOENT);
  CHECK(a.error().message().find("no process lives in it") != std::string::npos);
}

TEST_CASE("ns-mount: the policy file is write-once", "[backends]") {
  Node node;
  NsMountBackend backend(node.options());
  REQUIRE(backend.attach(node.request()).ok());
  auto again = backend.attach(node.request());
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message().find("write-once") != std::string::npos);
}

TEST_CASE("ns-mount: a rejected rule fails attach and names the line", "[backends]") {
  Node node;
  NsMountBackend backend(node.options());
  auto req = node.request();
  req.policy_text = "measure func=BPRM_CHECK\nbad-action x\n";
  auto a = backend.attach(req);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message().find("policy line 2") != std::string::npos);
}

TEST_CASE("ns-mount: enforce needs ima_appraise=enforce_ns", "[backends]") {
  Node plain;
  NsMountBackend b1(plain.options());
  CHECK_FALSE(b1.capabilities().enforce);
  auto refused = b1.attach(plain.request(Mode::enforce));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message().find("enforce_ns") != std::string::npos);
  Node ns("4026532451", "console=ttyS0 ima_appraise=enforce_ns\n");
  NsMountBackend b2(ns.options());
  CHECK(b2.capabilities().enforce);
  CHECK(b2.attach(ns.request(Mode::enforce)).ok());
}

TEST_CASE("ns-mount: a missing namespaces file means no draft kernel", "[backends]") {
  Node node;
  fs::remove(node.fake->ima() / "namespaces");
  NsMountBackend backend(node.options());
  auto a = backend.attach(node.request());
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message().find("no IMA mount-namespace support") != std::string::npos);
}

TEST_CASE("split_ascii_log keeps the lines of one mnt-ns, unchanged", "[backends]") {
  std::string log =
      "10 1111111111111111111111111111111111111111 ima-ng sha256:00 boot_aggregate\n"
      "10 2222222222222222222222222222222222222222 ima-ns mnt-ns=4026532451 inode=12 dev=sda1 sha256:aa /bin/sh\n"
      "10 3333333333333333333333333333333333333333 ima-ns mnt-ns=4026531840 inode=13 dev=sda1 sha256:bb /x\n"
      "10 4444444444444444444444444444444444444444 ima-ns mnt-ns=4026532451 inode=14 dev=vda sha256:cc /etc/p\n";
  CHECK(split_ascii_log(log, "4026532451") ==
        "10 2222222222222222222222222222222222222222 ima-ns mnt-ns=4026532451 inode=12 dev=sda1 sha256:aa /bin/sh\n"
        "10 4444444444444444444444444444444444444444 ima-ns mnt-ns=4026532451 inode=14 dev=vda sha256:cc /etc/p\n");
  CHECK(split_ascii_log(log, "402653245").empty());  // no prefix matches
}

TEST_CASE("split_binary_log keeps the entries of one nid, in text or number form", "[backends]") {
  Bytes log, want;
  add_entry(log, "ima-ng", {text("sha256:\0"), text("boot_aggregate")});
  Bytes mine1, mine2;
  add_entry(mine1, "ima-ns", {text("mnt-ns=4026532451"), text("inode=12"), text("dev=sda1"), text("d"), text("/bin/sh")});
  add_entry(mine2, "ima-ns", {le32(4026532451u), text("inode=14"), text("dev=vda"), text("d"), text("/etc/p")});
  add_entry(log, "ima-ns", {text("mnt-ns=4026531840"), text("inode=1"), text("dev=sda1"), text("d"), text("/x")});
  log.insert(log.end(), mine1.begin(), mine1.end());
  log.insert(log.end(), mine2.begin(), mine2.end());
  want = mine1;
  want.insert(want.end(), mine2.begin(), mine2.end());
  auto got = split_binary_log(log, "4026532451");
  REQUIRE(got.ok());
  CHECK(*got == want);
}

TEST_CASE("split_binary_log refuses a truncated log with the offset", "[backends]") {
  Bytes log;
  add_entry(log, "ima-ns", {text("mnt-ns=1"), text("n")});
  log.resize(log.size() - 3);
  auto got = split_binary_log(log, "1");
  REQUIRE_FALSE(got.ok());
  CHECK(got.error().message().find("runs past the end") != std::string::npos);
}

TEST_CASE("ns-mount detach writes the container's share of the global logs", "[backends]") {
  Node node;
  Bytes bin;
  add_entry(bin, "ima-ns", {text("mnt-ns=4026532451"), text("inode=12"), text("dev=sda1"), text("d"), text("/a")});
  Bytes other;
  add_entry(other, "ima-ns", {text("mnt-ns=99"), text("inode=1"), text("dev=sda1"), text("d"), text("/b")});
  Bytes all = other;
  all.insert(all.end(), bin.begin(), bin.end());
  testing::write_text(node.fake->ima() / "binary_runtime_measurements", std::string(all.begin(), all.end()));
  testing::write_text(node.fake->ima() / "ascii_runtime_measurements",
                      "10 aa ima-ns mnt-ns=99 inode=1 dev=sda1 sha256:bb /b\n"
                      "10 cc ima-ns mnt-ns=4026532451 inode=12 dev=sda1 sha256:dd /a\n");
  NsMountBackend backend(node.options());
  auto a = backend.attach(node.request());
  REQUIRE(a.ok());
  REQUIRE(backend.detach(*a, node.request()).ok());
  auto dir = node.request().log_dir;
  CHECK(testing::read_text(dir / "ascii_runtime_measurements") ==
        "10 cc ima-ns mnt-ns=4026532451 inode=12 dev=sda1 sha256:dd /a\n");
  CHECK(testing::read_text(dir / "binary_runtime_measurements") == std::string(bin.begin(), bin.end()));
  CHECK_FALSE(fs::exists(dir / "ascii_runtime_measurements.tmp"));
}

TEST_CASE("split_binary_log reads the nid field as the formats module writes it", "[backends]") {
  Bytes log, mine;
  add_entry(log, "ima-ng", {formats::field_nid(4026531840u), formats::field_fi(7), text("dev=sda1"), text("d"), text("/a")});
  add_entry(mine, "ima-ng", {formats::field_nid(4026532451u), formats::field_fi(9), text("dev=sda1"), text("d"), text("/b")});
  log.insert(log.end(), mine.begin(), mine.end());
  auto got = split_binary_log(log, "4026532451");
  REQUIRE(got.ok());
  CHECK(*got == mine);
}
