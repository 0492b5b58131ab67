#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "imashim/formats/measurement_log.hpp"
#include "imashim/tpm/anchor.hpp"
#include "imashim/tpm/attest.hpp"
#include "imashim/tpm/periodic.hpp"

#include <signal.h>

using namespace imashim;
using namespace imashim::tpm;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "imashim-anchor.XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

Bytes digest_of(const std::string& content) { return *formats::hash_bytes(HashAlgo::sha256, as_bytes(content)); }

// Writes `files` (path -> content) as ima-ng entries into <root>/<id>/.
void write_log(const fs::path& root, const std::string& id, const std::vector<std::pair<std::string, std::string>>& files) {
  fs::create_directories(root / id);
  auto log = formats::MeasurementLogAppender::open(root / id / "binary_runtime_measurements",
                                                   root / id / "ascii_runtime_measurements");
  REQUIRE(log);
  auto desc = *formats::builtin_template("ima-ng");
  for (const auto& [path, content] : files) {
    formats::Measurement m;
    m.path = path;
    m.digest = digest_of(content);
    REQUIRE(log->append(desc, m));
  }
}

Bytes read_file(const fs::path& p) { return *formats::read_whole_file(p); }
void write_file(const fs::path& p, ByteView data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

struct Node {
  TempDir dir;
  std::unique_ptr<Tpm> tpm = make_software_tpm();
  AnchorConfig config;
  fs::path logs;
  Node() {
    logs = dir.path / "containers";
    config.anchor_dir = logs / std::string(kAnchorDirName);
  }
  AnchorRecord anchor_log(const std::string& id, AnchorEvent ev = AnchorEvent::delete_) {
    Bytes log = read_file(logs / id / "binary_runtime_measurements");
    auto state = container_log_state(id, log, HashAlgo::sha256);
    REQUIRE(state);
    state->event = ev;
    auto r = anchor_with(*tpm, config, *state);
    INFO((r ? std::string() : r.error().message()));
    REQUIRE(r);
    return *r;
  }
  nlohmann::json bundle(const Bytes& nonce) {
    AttestRequest req;
    req.config = config;
    req.log_root = logs;
    req.all = true;
    req.nonce = nonce;
    auto b = create_bundle(*tpm, req);
    REQUIRE(b);
    return *b;
  }
  VerifyOptions options(const Bytes& nonce) {
    VerifyOptions o;
    o.nonce = nonce;
    o.ak_pem = *ak_public_pem(*tpm->ak_public());
    return o;
  }
};

const std::vector<std::pair<std::string, std::string>> kFilesA = {
    {"/bin/sh", "shell"}, {"/bin/ls", "ls"}, {"/etc/passwd", "root:x:0:0"}};
const std::vector<std::pair<std::string, std::string>> kFilesB = {{"/bin/sh", "shell"}, {"/usr/bin/app", "app v1"}};
const Bytes kNonce = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};

bool any_problem_contains(const VerifyReport& r, const std::string& text) {
  for (const auto& p : r.problems)
    if (p.find(text) != std::string::npos) return true;
  for (const auto& c : r.containers)
    for (const auto& p : c.problems)
      if (p.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("anchors extend the PCR with the anchor log's template digests", "[tpm][anchor]") {
  Node n;
  write_log(n.logs, "a", kFilesA);
  write_log(n.logs, "b", kFilesB);
  n.anchor_log("a", AnchorEvent::periodic);
  n.anchor_log("b");
  n.anchor_log("a");
  Bytes anchor_log = read_file(n.config.anchor_dir / "binary_runtime_measurements");
  auto replay = formats::replay_log(anchor_log);
  REQUIRE(replay);
  CHECK(replay->entries == 3);
  CHECK(formats::find_bank(replay->banks, HashAlgo::sha256)->value(23) == *n.tpm->pcr_read(23, HashAlgo::sha256));
  CHECK(formats::find_bank(replay->banks, HashAlgo::sha1)->value(23) == *n.tpm->pcr_read(23, HashAlgo::sha1));
  auto records = read_anchor_log(anchor_log);
  REQUIRE(records);
  REQUIRE(records->size() == 3);
  CHECK((*records)[0].container_id == "a");
  CHECK((*records)[0].entries == 3);
  CHECK((*records)[0].event == AnchorEvent::periodic);
  CHECK((*records)[1].container_id == "b");
  CHECK((*records)[2].event == AnchorEvent::delete_);
  auto state = container_log_state("a", read_file(n.logs / "a" / "binary_runtime_measurements"), HashAlgo::sha256);
  CHECK((*records)[2].virtual_pcr == state->virtual_pcr);
  // The ascii twin names the custom template by its format, as the kernel does.
  std::ifstream ascii(n.config.anchor_dir / "ascii_runtime_measurements");
  std::string line;
  std::getline(ascii, line);
  CHECK_THAT(line, Catch::StartsWith("23 "));
  CHECK_THAT(line, Catch::Contains(" n-ng|d-ng|buf a sha256:"));
}

TEST_CASE("a bundle of honest logs verifies; files are checked against the reference", "[tpm][attest]") {
  Node n;
  write_log(n.logs, "a", kFilesA);
  write_log(n.logs, "b", kFilesB);
  n.anchor_log("a");
  n.anchor_log("b");
  auto opts = n.options(kNonce);
  auto report = verify_bundle(n.bundle(kNonce), opts);
  REQUIRE(report);
  INFO(report->to_text());
  CHECK(report->ok());
  CHECK(report->warnings.size() == 1);  // no reference
  REQUIRE(report->containers.size() == 2);
  CHECK(report->containers[0].log_entries == 3);
  CHECK(report->containers[0].final_anchor);

  Reference ref;
  for (const auto& [p, c] : kFilesA) ref.add(p, digest_of(c));
  ref.add("/usr/bin/app", digest_of("app v2"));  // b runs another version
  opts.reference = ref;
  report = verify_bundle(n.bundle(kNonce), opts);
  REQUIRE(report);
  CHECK_FALSE(report->ok());
  CHECK(report->containers[0].ok());
  CHECK(report->containers[1].files_wrong == 1);
  CHECK(report->containers[1].files[0].path == "/usr/bin/app");
  CHECK(report->containers[1].files[0].verdict == FileVerdict::wrong_digest);
  ref.add("/usr/bin/app", digest_of("app v1"));
  REQUIRE(ref.add_exclude("/etc/"));
  opts.reference = ref;
  report = verify_bundle(n.bundle(kNonce), opts);
  CHECK(report->ok());
  CHECK(report->containers[0].files_excluded == 1);
  auto j = report->to_json();
  CHECK(j["ok"] == true);
  CHECK(j["containers"][0]["files"]["excluded"] == 1);
}

TEST_CASE("tampering with logs, quotes or the anchor log is detected", "[tpm][attest]") {
  Node n;
  write_log(n.logs, "a", kFilesA);
  write_log(n.logs, "b", kFilesB);
  n.anchor_log("a");
  n.anchor_log("b");
  fs::path a_log = n.logs / "a" / "binary_runtime_measurements";
  fs::path b_log = n.logs / "b" / "binary_runtime_measurements";
  Bytes a = read_file(a_log), b = read_file(b_log);
  auto verify_now = [&](const Bytes& nonce = kNonce) {
    auto r = verify_bundle(n.bundle(nonce), n.options(kNonce));
    REQUIRE(r);
    return *r;
  };

  SECTION("one byte of a container log") {
    Bytes t = a;
    t[t.size() - 5] ^= 1;
    write_file(a_log, t);
    auto r = verify_now();
    CHECK_FALSE(r.ok());
    CHECK(any_problem_contains(r, "do not replay to the anchored virtual PCR"));
  }
  SECTION("two entries reordered") {
    auto state = container_log_state("a", a, HashAlgo::sha256);
    formats::LogReader reader(a);
    auto e0 = **reader.next();
    auto e1 = **reader.next();
    Bytes t(a.begin() + static_cast<long>(e1.offset), a.begin() + static_cast<long>(e1.offset + e1.size));
    t.insert(t.end(), a.begin(), a.begin() + static_cast<long>(e0.size));
    t.insert(t.end(), a.begin() + static_cast<long>(e1.offset + e1.size), a.end());
    write_file(a_log, t);
    CHECK(any_problem_contains(verify_now(), "do not replay"));
  }
  SECTION("the last entry dropped") {
    formats::LogReader reader(a);

    (void)*reader.next();
    (void)*reader.next();
    std::size_t end = reader.offset();
    write_file(a_log, ByteView(a).subspan(0, end));
    CHECK(any_problem_contains(verify_now(), "entries were dropped"));
  }
  SECTION("two containers' logs swapped") {
    write_file(a_log, b);
    write_file(b_log, a);
    auto r = verify_now();
    CHECK_FALSE(r.containers[0].ok());
    CHECK_FALSE(r.containers[1].ok());
  }
  SECTION("an old quote replayed") {
    auto r = verify_now({9, 9, 9, 9});
    CHECK(any_problem_contains(r, "nonce mismatch"));
  }
  SECTION("the node anchor log truncated") {
    fs::path al = n.config.anchor_dir / "binary_runtime_measurements";
    Bytes t = read_file(al);
    auto records = *read_anchor_log(t);
    formats::LogReader reader(t);
    (void)*reader.next();
    write_file(al, ByteView(t).subspan(0, reader.offset()));
    CHECK(any_problem_contains(verify_now(), "does not replay to the quoted PCR"));
  }
  SECTION("entries appended after the final anchor") {
    write_log(n.logs, "a", {{"/bin/evil", "evil"}});
    CHECK(any_problem_contains(verify_now(), "follow the final anchor"));
  }
  SECTION("another AK") {
    auto opts = n.options(kNonce);
    opts.ak_pem = *ak_public_pem(*make_software_tpm()->ak_public());
    auto r = verify_bundle(n.bundle(kNonce), opts);
    CHECK(any_problem_contains(*r, "different AK"));
  }
}

TEST_CASE("a periodic anchor leaves a reported, unanchored tail", "[tpm][attest]") {
  Node n;
  write_log(n.logs, "a", kFilesA);
  n.anchor_log("a", AnchorEvent::periodic);
  write_log(n.logs, "a", {{"/bin/later", "later"}});
  auto r = verify_bundle(n.bundle(kNonce), n.options(kNonce));
  REQUIRE(r);
  CHECK(r->ok());
  CHECK(r->containers[0].log_entries == 4);
  CHECK(r->containers[0].anchored_entries == 3);
  CHECK_THAT(r->to_text(), Catch::Contains("1 entries after the last anchor"));
}

TEST_CASE("the anchor log follows PCR resets and completes an interrupted anchor", "[tpm][anchor]") {
  Node n;
  write_log(n.logs, "a", kFilesA);
  n.anchor_log("a");
  fs::path al = n.config.anchor_dir / "binary_runtime_measurements";

  SECTION("a reset PCR starts a new anchor log and keeps the old one") {
    REQUIRE(n.tpm->pcr_reset(23));
    n.anchor_log("a");
    CHECK(fs::exists(al.string() + ".1"));
    CHECK(read_anchor_log(read_file(al))->size() == 1);
  }
  SECTION("an entry logged but not extended is extended by the next anchor") {
    // A crash between writing the entry and extending the PCR.
    {
      formats::MeasurementLogAppender::Options opts;
      opts.banks = *n.tpm->banks(23);
      auto log = formats::MeasurementLogAppender::open(al, n.config.anchor_dir / "ascii_runtime_measurements", opts);
      Bytes old = read_file(al);
      formats::LogReader reader(old);
      REQUIRE(log->append(*formats::to_entry(**reader.next())));
    }
    n.anchor_log("a");
    auto replay = formats::replay_log(read_file(al));
    CHECK(replay->entries == 3);
    CHECK(formats::find_bank(replay->banks, HashAlgo::sha256)->value(23) == *n.tpm->pcr_read(23, HashAlgo::sha256));
  }
  SECTION("a failed extend takes its entry back out of the log") {
    Bytes before = *n.tpm->pcr_read(23, HashAlgo::sha256);
    struct FailingExtend : Tpm {
      Tpm& real;
      explicit FailingExtend(Tpm& t) : real(t) {}
      Result<std::vector<HashAlgo>> banks(unsigned p) override { return real.banks(p); }
      Result<Bytes> pcr_read(unsigned p, HashAlgo b) override { return real.pcr_read(p, b); }
      Result<void> pcr_extend(unsigned, const BankDigests&) override { return fail("power lost"); }
      Result<void> pcr_reset(unsigned p) override { return real.pcr_reset(p); }
      Result<Bytes> ak_public() override { return real.ak_public(); }
      Result<Quote> quote(std::span<const unsigned> p, HashAlgo b, ByteView nn) override { return real.quote(p, b, nn); }
    } failing(*n.tpm);
    auto state = *container_log_state("a", read_file(n.logs / "a" / "binary_runtime_measurements"), HashAlgo::sha256);
    auto r = anchor_with(failing, n.config, state);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message(), Catch::Contains("power lost"));
    CHECK(read_anchor_log(read_file(al))->size() == 1);
    CHECK(*n.tpm->pcr_read(23, HashAlgo::sha256) == before);
  }
  SECTION("a PCR extended by someone else is an error that names the PCR") {
    REQUIRE(n.tpm->pcr_extend(23, {{HashAlgo::sha256, Bytes(32, 7)}}));
    auto state = *container_log_state("a", read_file(n.logs / "a" / "binary_runtime_measurements"), HashAlgo::sha256);
    auto r = anchor_with(*n.tpm, n.config, state);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message(), Catch::Contains("PCR 23"));
    CHECK_THAT(r.error().message(), Catch::Contains("another program extends this PCR"));
  }
}

TEST_CASE("without a TPM: prefer marks the log unanchored, require refuses", "[tpm][anchor]") {
  TempDir dir;
  write_log(dir.path, "c", kFilesA);
  AnchorConfig config;
  config.tpm.tcti = "swtpm:host=127.0.0.1,port=1";
  config.anchor_dir = dir.path / "@anchor";
  config.on_failure = OnFailure::prefer;
  auto r = anchor_container_log(config, "c", dir.path / "c", AnchorEvent::delete_);
  REQUIRE(r);
  CHECK_FALSE(r->has_value());
  std::ifstream marker(dir.path / "c" / "unanchored");
  std::string why;
  std::getline(marker, why);
  CHECK_THAT(why, Catch::Contains("TPM unavailable"));
  REQUIRE(anchor_at_start(config, "d", dir.path / "d"));
  CHECK(fs::exists(dir.path / "d" / "unanchored"));

  config.on_failure = OnFailure::require;
  auto req = anchor_container_log(config, "c", dir.path / "c", AnchorEvent::delete_);
  REQUIRE_FALSE(req);
  CHECK_THAT(req.error().message(), Catch::Contains("TPM unavailable"));
  auto start = anchor_at_start(config, "e", dir.path / "e");
  REQUIRE_FALSE(start);
  CHECK_THAT(start.error().message(), Catch::Contains("on_failure=require") && Catch::Contains("TPM unavailable"));
  CHECK_FALSE(fs::exists(dir.path / "e" / "unanchored"));
}

TEST_CASE("anchor schedule: every N entries or T seconds with entries pending", "[tpm][anchor]") {
  using Clock = AnchorSchedule::Clock;
  auto t0 = Clock::now();
  AnchorSchedule s(3, 10, t0);
  CHECK_FALSE(s.due(t0 + std::chrono::seconds(60)));  // nothing pending
  s.entries_added(2);
  CHECK_FALSE(s.due(t0 + std::chrono::seconds(1)));
  CHECK(s.due(t0 + std::chrono::seconds(10)));
  s.entries_added();
  CHECK(s.due(t0));
  s.anchored(t0 + std::chrono::seconds(11));
  CHECK(s.pending() == 0);
  AnchorSchedule never(0, 0, t0);
  never.entries_added(1000);
  CHECK_FALSE(never.due(t0 + std::chrono::hours(1)));
}

TEST_CASE("a container id reused after delete is judged by its own anchors only", "[tpm][attest]") {
  Node n;
  write_log(n.logs, "a", kFilesA);
  n.anchor_log("a");
  // The same id again: the runtime sets the old log aside and anchors a start record.
  fs::rename(n.logs / "a", n.logs / "a.old");
  fs::rename(n.logs / "a.old", n.dir.path / "a.old");
  LogState start{"a", Bytes(32, 0), 0, AnchorEvent::start};
  REQUIRE(anchor_with(*n.tpm, n.config, start));
  write_log(n.logs, "a", kFilesB);
  n.anchor_log("a");
  auto r = verify_bundle(n.bundle(kNonce), n.options(kNonce));
  REQUIRE(r);
  INFO(r->to_text());
  CHECK(r->ok());
  CHECK(r->containers[0].anchors == 2);
  CHECK(r->containers[0].log_entries == 2);
}

TEST_CASE("the log follower replays only complete entries and picks up where it stopped", "[tpm][anchor]") {
  TempDir dir;
  write_log(dir.path, "c", kFilesA);
  fs::path log = dir.path / "c" / "binary_runtime_measurements";
  Bytes full = read_file(log);
  write_file(log, ByteView(full).subspan(0, full.size() - 7));  // the writer is mid-entry
  auto f = LogFollower::create(log, HashAlgo::sha256);
  REQUIRE(f);
  CHECK(*f->update() == 2);
  auto torn = container_log_state("c", read_file(log), HashAlgo::sha256);
  REQUIRE(torn);
  CHECK(torn->entries == 2);
  write_file(log, full);
  CHECK(*f->update() == 1);
  CHECK(*f->update() == 0);
  auto state = container_log_state("c", full, HashAlgo::sha256);
  CHECK(f->entries() == 3);
  CHECK(f->virtual_pcr() == state->virtual_pcr);
}

TEST_CASE("the periodic anchor process anchors a growing log and stops on request", "[tpm][anchor]") {
  // Needs a TPM it can reach from another process: use an unreachable one and
  // check the failure path, which marks the log unanchored.
  TempDir dir;
  write_log(dir.path, "c", kFilesA);
  PeriodicOptions o;
  o.config = make_anchor_config("swtpm:host=127.0.0.1,port=1", 23, OnFailure::prefer, dir.path);
  o.container_id = "c";
  o.log_dir = dir.path / "c";
  o.every_events = 1;
  o.poll = std::chrono::milliseconds(20);
  auto pid = spawn_periodic_anchor(o);
  REQUIRE(pid);
  for (int i = 0; i < 200 && !fs::exists(dir.path / "c" / "unanchored"); ++i) ::usleep(10000);
  CHECK(fs::exists(dir.path / "c" / "unanchored"));
  REQUIRE(stop_periodic_anchor(*pid));
  CHECK(::kill(*pid, 0) != 0);
}
