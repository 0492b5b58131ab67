// The fanotify monitor's decision engine, driven by recorded events (no fanotify needed).
#include <catch2/catch.hpp>

#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "imashim/backends/fanotify_engine.hpp"
#include "imashim/formats/ima_xattr.hpp"

using namespace imashim;
using namespace imashim::backends;
using namespace imashim::backends::fanotify;

namespace {

struct Logged {
  std::vector<Measurement> entries;
  std::vector<std::string> violations;
};

class VectorSink : public MeasurementSink {
 public:
  explicit VectorSink(Logged& l) : l_(l) {}
  Result<void> append(const Measurement& m) override {
    l_.entries.push_back(m);
    return {};
  }
  Result<void> violation(const std::string& name, int) override {
    l_.violations.push_back(name);
    return {};
  }
  Result<void> flush() override { return {}; }

 private:
  Logged& l_;
};

struct Records {
  std::vector<std::string> lines;  // "action path decision cause"
};

class VectorRecorder : public DecisionRecorder {
 public:
  explicit VectorRecorder(Records& r) : r_(r) {}
  void record(const DecisionRecord& d) override {
    r_.lines.push_back(d.action + " " + d.event->path + " " + (d.verdict->allow ? "allow" : "deny") + " " +
                       (d.verdict->cause.empty() ? "-" : d.verdict->cause));
  }

 private:
  Records& r_;
};

struct Fixture {
  Logged logged;
  Records records;
  std::unique_ptr<Engine> engine;

  Fixture(const std::string& policy, Mode mode) {
    auto p = make_policy_view(policy);
    REQUIRE(p.ok());
    engine = std::make_unique<Engine>(EngineConfig{"c1", mode, formats::HashAlgo::sha256, "ima-ng"}, std::move(*p),
                                      std::make_unique<VectorSink>(logged), std::make_unique<VectorRecorder>(records),
                                      nullptr, nullptr);
  }
};

FileEvent event(EventKind kind, const std::string& path, std::uint64_t ino, std::int64_t mtime = 1) {
  FileEvent e;
  e.kind = kind;
  e.path = path;
  e.pid = 42;
  e.version.dev = 7;
  e.version.ino = ino;
  e.version.mtime_ns = e.version.ctime_ns = mtime;
  e.version.size = 100;
  e.fmode = 0100644;
  return e;
}

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes label_of(std::string_view content) {
  auto d = formats::hash_bytes(formats::HashAlgo::sha256, text(content));
  return *formats::encode_ima_digest(formats::HashAlgo::sha256, *d);
}

}  // namespace

TEST_CASE("fanotify engine: an exec is measured once per file version", "[fanotify]") {
  Fixture f("measure func=BPRM_CHECK\n", Mode::measure);
  MemoryContent busybox(text("\x7f" "ELFbusybox"), std::nullopt);
  auto e = event(EventKind::exec, "/bin/busybox", 10);
  auto v1 = f.engine->decide(e, busybox);
  auto v2 = f.engine->decide(e, busybox);
  CHECK(v1.allow);
  CHECK(v1.measured);
  CHECK(v1.hook == Hook::bprm_check);
  CHECK_FALSE(v2.measured);
  REQUIRE(f.logged.entries.size() == 1);
  CHECK(f.logged.entries[0].path == "/bin/busybox");
  CHECK(f.logged.entries[0].template_name == "ima-ng");
  CHECK(to_hex(f.logged.entries[0].digest) == to_hex(*formats::hash_bytes(formats::HashAlgo::sha256, text("\x7f" "ELFbusybox"))));
  CHECK(busybox.hash_calls == 1);  // the digest is cached with the version
  CHECK(v2.ignorable);

  SECTION("a new version (the file changed) is measured again") {
    MemoryContent changed(text("other"), std::nullopt);
    auto e2 = event(EventKind::exec, "/bin/busybox", 10, 2);
    CHECK(f.engine->decide(e2, changed).measured);
    CHECK(f.logged.entries.size() == 2);
  }
  SECTION("an open is not an exec: FILE_CHECK rules only") {
    auto o = event(EventKind::open, "/etc/passwd", 11);
    MemoryContent passwd(text("root"), std::nullopt);
    CHECK_FALSE(f.engine->decide(o, passwd).measured);
  }
}

TEST_CASE("fanotify engine: hooks and masks follow the kernel's", "[fanotify]") {
  SECTION("the exec's own open is FILE_CHECK with MAY_EXEC") {
    Fixture f("measure func=FILE_CHECK mask=MAY_EXEC\n", Mode::measure);
    MemoryContent c(text("x"), std::nullopt);
    auto o = event(EventKind::open, "/bin/sh", 3);
    CHECK_FALSE(f.engine->decide(o, c).measured);
    o.follows_exec = true;
    CHECK(f.engine->decide(o, c).measured);
  }
  SECTION("opens of executable code stand for MMAP_CHECK") {
    Fixture f("measure func=MMAP_CHECK\n", Mode::measure);
    MemoryContent lib(text("\x7f" "ELF..."), std::nullopt);
    MemoryContent data(text("plain"), std::nullopt);
    CHECK(f.engine->decide(event(EventKind::open, "/lib/libc.so", 4), lib).measured);
    CHECK_FALSE(f.engine->decide(event(EventKind::open, "/etc/motd", 5), data).measured);
    auto script = event(EventKind::open, "/usr/bin/tool", 6);
    script.fmode = 0100755;
    CHECK(f.engine->decide(script, data).measured);
  }
  SECTION("a rule on the opener's uid disables the ignore-mark cache") {
    Fixture f("measure func=FILE_CHECK uid=1000\n", Mode::measure);
    MemoryContent c(text("x"), std::nullopt);
    auto o = event(EventKind::open, "/etc/a", 7);
    CHECK_FALSE(f.engine->decide(o, c).ignorable);
    o.uid = 1000;
    auto v = f.engine->decide(o, c);
    CHECK(v.measured);
    CHECK_FALSE(v.ignorable);
  }
}

TEST_CASE("fanotify engine: appraisal with the kernel's causes", "[fanotify]") {
  const std::string policy = "measure func=BPRM_CHECK\nappraise func=BPRM_CHECK\nappraise func=FILE_CHECK\n";
  Fixture f(policy, Mode::enforce);
  SECTION("a matching label passes") {
    MemoryContent c(text("good"), label_of("good"));
    auto v = f.engine->decide(event(EventKind::exec, "/bin/good", 20), c);
    CHECK(v.allow);
    CHECK(v.cause.empty());
    CHECK(v.ignorable);
  }
  SECTION("a tampered file fails with invalid-hash and is denied") {
    MemoryContent c(text("tampered"), label_of("good"));
    auto v = f.engine->decide(event(EventKind::exec, "/bin/good", 21), c);
    CHECK_FALSE(v.allow);
    CHECK(v.cause == "invalid-hash");
    CHECK_FALSE(v.ignorable);
    CHECK(f.logged.entries.size() == 1);  // measured before appraised, as the kernel does
    REQUIRE_FALSE(f.records.lines.empty());
    CHECK(f.records.lines.back() == "measure+appraise /bin/good deny invalid-hash");
  }
  SECTION("an unlabelled file fails with missing-hash") {
    MemoryContent c(text("data"), std::nullopt);
    auto v = f.engine->decide(event(EventKind::open, "/etc/data", 22), c);
    CHECK_FALSE(v.allow);
    CHECK(v.cause == "missing-hash");
  }
  SECTION("an empty unlabelled file is one the container just created") {
    MemoryContent c(Bytes{}, std::nullopt);
    auto e = event(EventKind::open, "/tmp/new", 23);
    e.version.size = 0;
    CHECK(f.engine->decide(e, c).allow);
    // ... it stays allowed while being written, until its writer closes it
    MemoryContent grown(text("some"), std::nullopt);
    auto e2 = event(EventKind::open, "/tmp/new", 23, 5);
    auto v = f.engine->decide(e2, grown);
    CHECK(v.allow);
    CHECK_FALSE(v.ignorable);
  }
  SECTION("a garbage label is unknown-ima-data") {
    MemoryContent c(text("x"), Bytes{0x42, 0x01});
    CHECK(f.engine->decide(event(EventKind::open, "/etc/x", 24), c).cause == "unknown-ima-data");
  }
  SECTION("an internal error denies in enforce mode") {
    auto v = f.engine->on_error(event(EventKind::open, "/etc/y", 25), "readlink failed");
    CHECK_FALSE(v.allow);
    CHECK(v.cause == "failed");
  }
}

TEST_CASE("fanotify engine: log mode records failures and allows", "[fanotify]") {
  Fixture f("appraise func=FILE_CHECK\n", Mode::log);
  MemoryContent c(text("tampered"), label_of("good"));
  auto v = f.engine->decide(event(EventKind::open, "/etc/conf", 30), c);
  CHECK(v.allow);
  CHECK(v.cause == "invalid-hash");
  REQUIRE(f.records.lines.size() == 1);
  CHECK(f.records.lines[0] == "appraise /etc/conf allow invalid-hash");
}

TEST_CASE("fanotify engine: measure mode never appraises", "[fanotify]") {
  Fixture f("appraise func=FILE_CHECK\n", Mode::measure);
  MemoryContent c(text("tampered"), label_of("good"));
  auto v = f.engine->decide(event(EventKind::open, "/etc/conf", 31), c);
  CHECK(v.allow);
  CHECK(v.cause.empty());
  SECTION("and an internal error allows") { CHECK(f.engine->on_error(event(EventKind::open, "/x", 32), "e").allow); }
}

TEST_CASE("fanotify engine: a file the container writes is relabelled when closed", "[fanotify]") {
  Fixture f("appraise func=FILE_CHECK\n", Mode::enforce);
  MemoryContent c(text("new content"), label_of("old content"));  // copy-up kept the old label
  auto closed = event(EventKind::close_write, "/etc/conf", 40, 9);
  f.engine->modified(closed, c);
  auto x = c.ima_xattr();
  REQUIRE(x.ok());
  REQUIRE(x->has_value());
  CHECK(to_hex(**x) == to_hex(label_of("new content")));
  CHECK(f.engine->decide(event(EventKind::open, "/etc/conf", 40, 10), c).allow);
  CHECK(f.records.lines.front() == "relabel /etc/conf allow -");

  SECTION("never over a signature") {
    formats::SignatureV2 sig;
    sig.signature = Bytes(8, 0xaa);
    auto sigx = *formats::encode_signature_v2(sig);
    MemoryContent s(text("x"), sigx);
    f.engine->modified(event(EventKind::close_write, "/bin/signed", 41), s);
    CHECK(to_hex(**s.ima_xattr()) == to_hex(sigx));
  }
}

TEST_CASE("fanotify engine: recorded events replay", "[fanotify]") {
  auto path = std::filesystem::temp_directory_path() / "imashim-fanotify-replay.jsonl";
  {
    std::ofstream out(path);
    out << "# a recorded session\n";
    out << R"({"kind":"exec","path":"/bin/busybox","ino":1,"content":"\u007fELF1"})" << "\n";
    out << R"({"kind":"open","path":"/bin/busybox","ino":1,"content":"\u007fELF1","follows_exec":true})" << "\n";
    out << R"({"kind":"exec","path":"/bin/busybox","ino":1,"content":"\u007fELF1"})" << "\n";
    out << R"({"kind":"close_write","path":"/bin/busybox","ino":1,"mtime_ns":5,"content":"\u007fELF2"})" << "\n";
    out << R"({"kind":"exec","path":"/bin/busybox","ino":1,"mtime_ns":5,"content":"\u007fELF2"})" << "\n";
  }
  auto events = read_recorded_events(path);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 5);
  Fixture f("measure func=BPRM_CHECK\n", Mode::measure);
  auto verdicts = replay(*f.engine, *events);
  REQUIRE(verdicts.size() == 5);
  CHECK(verdicts[0].measured);
  CHECK_FALSE(verdicts[2].measured);
  CHECK(verdicts[4].measured);
  CHECK(f.logged.entries.size() == 2);
  std::filesystem::remove(path);

  SECTION("a bad line names the file and line") {
    std::ofstream(path) << "{\"kind\":\"rename\",\"path\":\"/x\"}\n";
    auto bad = read_recorded_events(path);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message().find(":1: recorded event: unknown kind") != std::string::npos);
    std::filesystem::remove(path);
  }
}

TEST_CASE("fanotify engine: rules on the opener's write flags are refused", "[fanotify]") {
  for (const char* rule : {"measure func=FILE_CHECK mask=MAY_WRITE", "appraise func=FILE_CHECK mask=^MAY_APPEND"}) {
    std::string policy = std::string("measure func=BPRM_CHECK\n") + rule + "\n";
    auto p = make_policy_view(policy);
    REQUIRE_FALSE(p.ok());
    const std::string& msg = p.error().message();
    CAPTURE(msg);
    CHECK(msg.find("policy:2:") != std::string::npos);  // names the rule by line
    CHECK(msg.find(rule) != std::string::npos);         // and by its text
    CHECK(msg.find("open flags") != std::string::npos);  // and says why
  }
  CHECK(make_policy_view("measure func=FILE_CHECK mask=MAY_READ\nmeasure func=FILE_CHECK mask=^MAY_EXEC\n").ok());
}

TEST_CASE("fanotify engine: policy check errors and warnings, by line", "[fanotify]") {
  auto parsed = imashim::policy::parse_policy(
      "measure func=BPRM_CHECK\nmeasure func=MODULE_CHECK\nappraise func=FILE_CHECK mask=MAY_WRITE\n"
      "dont_measure fsmagic=0x9fa0\nmeasure func=MMAP_CHECK mask=MAY_EXEC\n",
      {});
  REQUIRE(parsed.ok());
  auto d = policy_diagnostics(parsed.policy);
  REQUIRE(d.size() == 2);
  CHECK(d[0].line == 2);
  CHECK(d[0].severity == imashim::policy::Diagnostic::Severity::warning);
  CHECK(d[0].message.find("func=MODULE_CHECK never applies") != std::string::npos);
  CHECK(d[1].line == 3);
  CHECK(d[1].severity == imashim::policy::Diagnostic::Severity::error);
  CHECK(d[1].message.find("mask=MAY_WRITE cannot be evaluated") != std::string::npos);
}

TEST_CASE("fanotify engine: audit records are shaped like the kernel's", "[fanotify]") {
  FileEvent e = event(EventKind::exec, "/bin/tampered", 99);
  e.version.dev = makedev(0, 52);
  e.uid = 1000;
  Verdict v;
  v.allow = false;
  v.cause = "invalid-hash";
  DecisionRecord r{"web-1", &e, &v, Mode::enforce, "measure+appraise"};
  CHECK(audit_record_text(r, "sh") ==
        "pid=42 uid=1000 op=appraise_data cause=invalid-hash comm=\"sh\" name=\"/bin/tampered\" dev=\"0:52\" "
        "ino=99 errno=13 container=\"web-1\" imashim_mode=enforce");

  SECTION("a failure that is not appraisal, allowed in log mode, with names the kernel would hex-encode") {
    v.allow = true;
    v.cause = "failed";
    e.path = "/tmp/a b";
    e.ids_known = false;
    DecisionRecord m{"c", &e, &v, Mode::log, "measure"};
    CHECK(audit_record_text(m, "my tool") ==
          "pid=42 uid=? op=collect_data cause=failed comm=6D7920746F6F6C name=2F746D702F612062 dev=\"0:52\" "
          "ino=99 errno=0 container=\"c\" imashim_mode=log");
  }
  SECTION("an audit rule's record is shaped like INTEGRITY_RULE") {
    Verdict ok;
    ok.digest_hex = "sha256:ab";
    DecisionRecord a{"c", &e, &ok, Mode::measure, "audit"};
    CHECK(audit_record_text(a, "sh") ==
          "file=\"/bin/tampered\" hash=\"sha256:ab\" pid=42 uid=1000 comm=\"sh\" container=\"c\" imashim_mode=measure");
  }
}

TEST_CASE("fanotify engine: events.jsonl lines are valid JSON with every field", "[fanotify]") {
  auto dir = std::filesystem::temp_directory_path() / ("imashim-jsonl-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto rec = open_recorder(dir, false);
  REQUIRE(rec.ok());
  FileEvent e = event(EventKind::open, "/etc/a \"quoted\"\\\x01\xff", 5);
  e.uid = 7;
  e.euid = 8;
  Verdict v;
  v.allow = false;
  v.cause = "invalid-hash";
  v.measured = true;
  v.digest_hex = "sha256:00";
  (*rec)->record(DecisionRecord{"c1", &e, &v, Mode::enforce, "measure+appraise"});
  e.ids_known = false;
  v = Verdict{};
  (*rec)->record(DecisionRecord{"c1", &e, &v, Mode::log, "measure"});
  rec->reset();
  std::ifstream in(dir / "events.jsonl");
  std::string line1, line2;
  REQUIRE(std::getline(in, line1));
  REQUIRE(std::getline(in, line2));
  auto j = nlohmann::json::parse(line1);
  CHECK(j["action"] == "measure+appraise");
  CHECK(j["cause"] == "invalid-hash");
  CHECK(j["container"] == "c1");
  CHECK(j["decision"] == "deny");
  CHECK(j["digest"] == "sha256:00");
  CHECK(j["event"] == "open");
  CHECK(j["hook"] == "FILE_CHECK");
  CHECK(j["measured"] == true);
  CHECK(j["mode"] == "enforce");
  CHECK(j["path"] == "/etc/a \"quoted\"\\\x01\xef\xbf\xbd");  // not UTF-8: replaced
  CHECK(j["pid"] == 42);
  CHECK(j["uid"] == 7);
  CHECK(j["euid"] == 8);
  CHECK(j["time"].get<std::string>().size() == 27);
  auto k = nlohmann::json::parse(line2);
  CHECK(k["uid"].is_null());
  CHECK(k["cause"] == "");
  CHECK_FALSE(k.contains("digest"));
  CHECK(k["decision"] == "allow");
  std::filesystem::remove_all(dir);
}

TEST_CASE("fanotify engine: hashed() tells versions whose decision needs no hashing", "[fanotify]") {
  Fixture f("measure func=BPRM_CHECK\n", Mode::measure);
  MemoryContent c(text("binary"), std::nullopt);
  auto e = event(EventKind::exec, "/bin/big", 20);
  CHECK_FALSE(f.engine->hashed(e.version));
  f.engine->decide(e, c);
  CHECK(f.engine->hashed(e.version));
  auto changed = e.version;
  changed.mtime_ns += 1;
  CHECK_FALSE(f.engine->hashed(changed));
}
