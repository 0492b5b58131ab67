#include <catch2/catch.hpp>

#include "imashim/node/events.hpp"

using namespace imashim::node;

namespace {
const std::string kFix = IMASHIM_FIXTURES "/node/events";
}

TEST_CASE("audit: integrity record types by name, number and UNKNOWN[n]", "[node][events]") {
  CHECK(integrity_audit_type("INTEGRITY_DATA")->number == 1800);
  CHECK(integrity_audit_type("1807")->name == "INTEGRITY_POLICY_RULE");
  CHECK(integrity_audit_type("UNKNOWN[1806]")->name == "INTEGRITY_EVM_XATTR");
  CHECK_FALSE(integrity_audit_type("SYSCALL"));
  CHECK_FALSE(integrity_audit_type("1300"));
}

TEST_CASE("audit: an appraisal failure line from auditd (enriched format)", "[node][events]") {
  auto e = parse_audit_line(
      "type=INTEGRITY_DATA msg=audit(1763892001.200:20): pid=5101 uid=0 auid=4294967295 ses=4294967295 "
      "subj=unconfined op=appraise_data cause=invalid-hash comm=\"sh\" name=\"/a b/evil\" dev=\"overlay\" "
      "ino=31 res=0 errno=0\x1dUID=\"root\"");
  REQUIRE(e);
  CHECK(e->type == "INTEGRITY_DATA");
  CHECK(e->time == "1763892001.200:20");
  CHECK(e->op == "appraise_data");
  CHECK(e->cause == "invalid-hash");
  CHECK(e->path == "/a b/evil");
  CHECK(e->result == "0");
  CHECK(*e->pid == 5101);
  CHECK(e->fields.count("UID") == 0);
}

TEST_CASE("audit: kernel log form, hex-encoded names, other records skipped", "[node][events]") {
  auto k = parse_audit_line("[   12.3] audit: type=1800 audit(1763892006.800:26): pid=77 op=appraise_data "
                            "cause=missing-hash name=\"/mnt/x\" res=0");
  REQUIRE(k);
  CHECK(k->type == "INTEGRITY_DATA");
  CHECK(k->path == "/mnt/x");
  auto hex = parse_audit_line("type=INTEGRITY_RULE msg=audit(1.5:23): file=2F6F70742F6D7920746F6F6C hash=\"sha256:33\" pid=9");
  REQUIRE(hex);
  CHECK(hex->path == "/opt/my tool");
  CHECK_FALSE(parse_audit_line("type=SYSCALL msg=audit(1.4:22): arch=c000003e syscall=188 key=\"ima-xattr\""));
  CHECK_FALSE(parse_audit_line("type=TRUSTED_APP msg=audit(1.4:22): pid=1 msg='op=other'"));
  CHECK_FALSE(parse_audit_line("not an audit line"));
}

TEST_CASE("monitor: events.jsonl lines; a bad line is an error", "[node][events]") {
  auto e = parse_monitor_line(R"({"time":"t","container":"c1","event":"exec","action":"measure","path":"/bin/sh","pid":3,"decision":"deny","cause":"invalid-hash","measured":true})");
  REQUIRE(e.ok());
  CHECK(e->source == "monitor");
  CHECK(e->container == "c1");
  CHECK(e->result == "deny");
  CHECK(e->fields.at("measured") == "true");
  CHECK_FALSE(parse_monitor_line("{oops").ok());
}

TEST_CASE("events: both sources, kernel records attributed to containers", "[node][events]") {
  EventQuery q;
  q.log_root = kFix + "/log";
  q.state_root = kFix + "/state";
  q.audit_log = kFix + "/audit.log";
  auto all = read_events(q);
  REQUIRE(all.ok());
  CHECK(all->warnings.empty());
  // 2 monitor events + 6 integrity/monitor audit records (DAEMON_START and SYSCALL skipped).
  REQUIRE(all->events.size() == 8);
  auto by_path = [&](const std::string& p) {
    for (const auto& e : all->events)
      if (e.path == p) return e;
    FAIL("no event for " << p);
    return IntegrityEvent{};
  };
  CHECK(by_path("/run/containers/storage/overlay/abc/merged/bin/evil").container == "c2");  // rootfs of c2
  CHECK(by_path("/opt/my tool").container == "c2");                                         // init pid of c2
  CHECK(by_path("/bin/x").container == "c1");                                               // the monitor's record
  CHECK(by_path("/etc/kubernetes/kubelet.conf").container.empty());                         // the host's
  q.container = "c1";
  auto c1 = read_events(q);
  REQUIRE(c1.ok());
  CHECK(c1->events.size() == 3);
  q.container = "nope";
  auto none = read_events(q);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message().find("container `nope`: no log dir under") == 0);
}
