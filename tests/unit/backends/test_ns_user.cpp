#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include "fake_securityfs.hpp"
#include "imashim/backends/ns_user.hpp"

using namespace imashim;
using namespace imashim::backends;
using imashim::testing::FakeSecurityFs;
using imashim::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// A fake /proc for the test process itself (the keeper's comm is real) and a
// fake namespace securityfs that the fake "enter and mount" returns.
struct Node {
  TempDir t;
  std::shared_ptr<FakeSecurityFs> fake = std::make_shared<FakeSecurityFs>(t.path() / "nsfs");
  fs::path proc = t.path() / "proc";
  Node() {
    fs::create_directories(proc / "42" / "ns");
    fs::create_symlink("user:[4026532777]", proc / "42" / "ns" / "user");
    testing::write_text(fake->ima() / "active", "");
    testing::write_text(fake->ima() / "policy", "");
    testing::write_text(fake->ima() / "ascii_runtime_measurements", "10 aa ima-ng sha256:bb /bin/sh\n");
    testing::write_text(fake->ima() / "binary_runtime_measurements", "BINARY");
  }
  NsUserOptions options() {
    NsUserOptions o;
    o.proc = proc;
    o.files = fake;
    o.stop_timeout_ms = 3000;
    auto root = fake->root();
    o.enter_and_mount = [root](pid_t pid) -> Result<fs::path> {
      if (pid != 42) return fail("no such process", ESRCH);
      return root;
    };
    return o;
  }
  AttachRequest request() {
    AttachRequest r;
    r.init_pid = 42;
    r.policy_text = "audit func=BPRM_CHECK\naudit func=FILE_CHECK\n";
    r.log_dir = t.path() / "logs";
    return r;
  }
};

}  // namespace

TEST_CASE("ns-user: the keeper activates the namespace, writes the policy, saves logs on detach", "[backends]") {
  Node node;
  // The keeper's comm is checked in /proc: point the fake proc's other entries at the real one.
  auto o = node.options();
  NsUserBackend backend(o);
  auto a = backend.attach(node.request());
  REQUIRE(a.ok());
  CHECK(a->kind == Kind::ns_user);
  CHECK(a->nsid == "4026532777");
  REQUIRE(a->monitor_pid > 0);
  CHECK(testing::read_text(node.fake->ima() / "active") == "1");
  CHECK(testing::read_text(node.fake->ima() / "policy") == "audit func=BPRM_CHECK\naudit func=FILE_CHECK\n");
  // The keeper is alive and named; fake /proc needs its comm for detach.
  fs::create_directories(node.proc / std::to_string(a->monitor_pid));
  fs::create_symlink(fs::path("/proc") / std::to_string(a->monitor_pid) / "comm",
                     node.proc / std::to_string(a->monitor_pid) / "comm");
  CHECK(testing::read_text(node.proc / std::to_string(a->monitor_pid) / "comm") ==
        std::string(kNsUserKeeperName) + "\n");
  REQUIRE(backend.detach(*a, node.request()).ok());
  CHECK(::kill(a->monitor_pid, 0) != 0);
  auto dir = node.request().log_dir;
  CHECK(testing::read_text(dir / "ascii_runtime_measurements") == "10 aa ima-ng sha256:bb /bin/sh\n");
  CHECK(testing::read_text(dir / "binary_runtime_measurements") == "BINARY");
  REQUIRE(backend.detach(*a, node.request()).ok());  // idempotent
}

TEST_CASE("ns-user: a policy the namespace rejects fails attach; no keeper is left", "[backends]") {
  Node node;
  NsUserBackend backend(node.options());
  auto req = node.request();
  req.policy_text = "audit func=BPRM_CHECK\nnot-a-rule\n";
  auto a = backend.attach(req);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().sys_errno() == EINVAL);
  CHECK(a.error().message().find("policy line 2") != std::string::npos);
}

TEST_CASE("ns-user: failing to enter the namespace is reported with its errno", "[backends]") {
  Node node;
  auto o = node.options();
  o.enter_and_mount = [](pid_t) -> Result<fs::path> { return fail("setns into user namespace", EPERM); };
  NsUserBackend backend(o);
  auto a = backend.attach(node.request());
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().sys_errno() == EPERM);
  CHECK(a.error().message().find("setns") != std::string::npos);
}

TEST_CASE("ns-user: detach without a keeper or saved log is an error", "[backends]") {
  Node node;
  NsUserBackend backend(node.options());
  Attachment a;
  a.kind = Kind::ns_user;
  a.monitor_pid = -1;
  auto r = backend.detach(a, node.request());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("no namespace log") != std::string::npos);
}
