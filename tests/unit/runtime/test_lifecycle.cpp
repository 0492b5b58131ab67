#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "imashim/runtime/lifecycle.hpp"

using namespace imashim;
using namespace imashim::runtime;
namespace fs = std::filesystem;

namespace {

// A backend that records what it was asked and can be told to fail.
struct Record {
  int attaches = 0;
  int detaches = 0;
  backends::AttachRequest last;
  bool fail_attach = false;
  bool fail_detach = false;
};

class RecordingBackend : public backends::Backend {
 public:
  explicit RecordingBackend(Record& r) : r_(r) {}
  backends::Kind kind() const override { return backends::Kind::fanotify; }
  backends::Capabilities capabilities() const override { return {true, true, true}; }
  Result<backends::Attachment> attach(const backends::AttachRequest& req) override {
    ++r_.attaches;
    r_.last = req;
    if (r_.fail_attach) return fail("cannot mark the container's mount");
    backends::Attachment a;
    a.kind = kind();
    a.monitor_pid = 4242;
    return a;
  }
  Result<void> detach(const backends::Attachment& a, const backends::AttachRequest& req) override {
    ++r_.detaches;
    CHECK(a.monitor_pid == 4242);
    if (r_.fail_detach) return fail("the monitor did not stop");
    std::ofstream(req.log_dir / "ascii_runtime_measurements") << "10 ...\n";
    return {};
  }

 private:
  Record& r_;
};

struct Fixture {
  fs::path root = fs::temp_directory_path() / ("imashim-lifecycle-" + std::to_string(::getpid()));
  NodeConfig node;
  Record rec;
  Pipeline pipeline;
  Fixture() {
    fs::remove_all(root);
    fs::create_directories(root / "bundle/rootfs/bin");
    node.state_root = root / "run";
    node.log_root = root / "logs";
    node.layer_cache_root = root / "layers";
    config(R"({"root": {"path": "rootfs"}})");
    pipeline.label = [](const LabelRequest& r) -> Result<LabelResult> {
      LabelResult out;
      out.manifests.push_back(r.layers.rootfs / "manifest");
      return out;
    };
    pipeline.policy = [](const PolicyRequest& r) -> Result<std::string> {
      return "measure func=BPRM_CHECK\n" + r.settings.extra_policy;
    };
    pipeline.backend = [this](const NodeConfig&, std::optional<backends::Kind>)
        -> Result<std::unique_ptr<backends::Backend>> {
      return std::unique_ptr<backends::Backend>(std::make_unique<RecordingBackend>(rec));
    };
  }
  ~Fixture() { fs::remove_all(root); }
  void config(const std::string& text) { std::ofstream(root / "bundle/config.json") << text; }
  // Container c1 prepared from the bundle and attached, as `ima-runc create` leaves it.
  void attach_c1() {
    auto p = prepare(node, "c1", root / "bundle", pipeline);
    REQUIRE(p.ok());
    REQUIRE(p->has_value());
    REQUIRE(attach(**p, 1234).ok());
  }
};

}  // namespace

TEST_CASE("lifecycle: prepare, attach, finalize") {
  Fixture f;
  f.config(R"({"root": {"path": "rootfs"}, "annotations": {"org.imashim.policy": "appraise func=BPRM_CHECK"}})");
  auto p = prepare(f.node, "c1", f.root / "bundle", f.pipeline);
  REQUIRE(p.ok());
  REQUIRE(p->has_value());
  auto s = attach(**p, 1234);
  REQUIRE(s.ok());
  CHECK(f.rec.attaches == 1);
  CHECK(f.rec.last.init_pid == 1234);
  CHECK(f.rec.last.policy_text == "measure func=BPRM_CHECK\nappraise func=BPRM_CHECK");
  CHECK(f.rec.last.log_dir == f.root / "logs/c1");
  CHECK(f.rec.last.state_dir == f.root / "run/c1");
  CHECK(f.rec.last.manifests.size() == 1);
  CHECK(fs::exists(f.root / "run/c1/state.json"));
  CHECK(fs::exists(f.root / "logs/c1/policy"));
  auto back = read_state(f.node, "c1");
  REQUIRE(back.ok());
  CHECK(back->pid == 1234);
  CHECK(back->attachment.monitor_pid == 4242);
  CHECK(back->request.manifests == f.rec.last.manifests);

  REQUIRE(finalize(f.node, "c1", f.pipeline).ok());
  CHECK(f.rec.detaches == 1);
  CHECK_FALSE(fs::exists(f.root / "run/c1"));
  CHECK(fs::exists(f.root / "logs/c1/container.json"));
  CHECK(fs::exists(f.root / "logs/c1/ascii_runtime_measurements"));
  // Idempotent: nothing left to detach.
  REQUIRE(finalize(f.node, "c1", f.pipeline).ok());
  CHECK(f.rec.detaches == 1);
}

TEST_CASE("lifecycle: container.json appears only once the backend detached") {
  Fixture f;
  f.attach_c1();
  f.rec.fail_detach = true;
  auto failed = finalize(f.node, "c1", f.pipeline);
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.error().message(), Catch::Contains("the monitor did not stop"));
  CHECK(fs::exists(f.root / "run/c1/state.json"));  // kept: a repeated delete retries
  CHECK_FALSE(fs::exists(f.root / "logs/c1/container.json"));
  CHECK_FALSE(fs::exists(f.root / "logs/c1/container.json.tmp"));
  f.rec.fail_detach = false;
  REQUIRE(finalize(f.node, "c1", f.pipeline).ok());
  CHECK(fs::exists(f.root / "logs/c1/container.json"));
  CHECK_FALSE(fs::exists(f.root / "logs/c1/container.json.tmp"));
  CHECK_FALSE(fs::exists(f.root / "run/c1"));
}

TEST_CASE("lifecycle: a record staged ahead becomes container.json only once the backend detached") {
  Fixture f;
  f.attach_c1();
  auto staged = stage_record(f.node, "c1");
  REQUIRE(staged.ok());
  CHECK(*staged == f.root / "logs/c1/container.json.tmp");
  CHECK_FALSE(fs::exists(f.root / "logs/c1/container.json"));
  f.rec.fail_detach = true;
  REQUIRE_FALSE(finalize(f.node, "c1", f.pipeline, *staged).ok());
  CHECK_FALSE(fs::exists(f.root / "logs/c1/container.json"));
  CHECK_FALSE(fs::exists(*staged));  // dropped with the failed detach
  CHECK(fs::exists(f.root / "run/c1/state.json"));
  f.rec.fail_detach = false;
  staged = stage_record(f.node, "c1");
  REQUIRE(staged.ok());
  REQUIRE(finalize(f.node, "c1", f.pipeline, *staged).ok());
  auto record = nlohmann::json::parse(std::ifstream(f.root / "logs/c1/container.json"));
  CHECK(record.contains("deleted"));
  CHECK(record["pid"] == 1234);
  CHECK_FALSE(fs::exists(*staged));
  CHECK_FALSE(fs::exists(f.root / "run/c1"));
  // No state (nothing to finalize): a staged file is not left behind either.
  CHECK_FALSE(stage_record(f.node, "c1").ok());
}

TEST_CASE("lifecycle: a backend that cannot attach leaves nothing behind") {
  Fixture f;
  f.rec.fail_attach = true;
  auto p = prepare(f.node, "c2", f.root / "bundle", f.pipeline);
  REQUIRE(p.ok());
  auto s = attach(**p, 1234);
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error().message(), Catch::Contains("attach fanotify backend") && Catch::Contains("cannot mark"));
  CHECK_FALSE(fs::exists(f.root / "run/c2"));
  CHECK_FALSE(fs::exists(f.root / "logs/c2"));
}

TEST_CASE("lifecycle: an earlier container's log with the same id is kept aside") {
  Fixture f;
  fs::create_directories(f.root / "logs/c3");
  std::ofstream(f.root / "logs/c3/ascii_runtime_measurements") << "old\n";
  auto p = prepare(f.node, "c3", f.root / "bundle", f.pipeline);
  REQUIRE(p.ok());
  REQUIRE(attach(**p, 99).ok());
  int kept = 0;
  for (const auto& e : fs::directory_iterator(f.root / "logs"))
    if (e.path().filename().string().starts_with("c3.")) ++kept;
  CHECK(kept == 1);
  CHECK_FALSE(fs::exists(f.root / "logs/c3/ascii_runtime_measurements"));
}

TEST_CASE("lifecycle: mode off does nothing; annotations may only tighten") {
  Fixture f;
  f.node.backend = BackendChoice::off;
  auto off = prepare(f.node, "c4", f.root / "bundle", f.pipeline);
  REQUIRE(off.ok());
  CHECK_FALSE(off->has_value());
  f.node.backend = BackendChoice::auto_;
  f.node.mode = backends::Mode::off;
  auto node_off = prepare(f.node, "c4", f.root / "bundle", f.pipeline);
  REQUIRE(node_off.ok());
  CHECK_FALSE(node_off->has_value());
  f.config(R"({"root": {"path": "rootfs"}, "annotations": {"org.imashim.mode": "enforce"}})");
  auto opted_in = prepare(f.node, "c4", f.root / "bundle", f.pipeline);
  REQUIRE(opted_in.ok());
  REQUIRE(opted_in->has_value());
  CHECK((*opted_in)->settings.mode == backends::Mode::enforce);
}

TEST_CASE("lifecycle: bad input fails before anything exists") {
  Fixture f;
  auto bad_id = prepare(f.node, "../x", f.root / "bundle", f.pipeline);
  REQUIRE_FALSE(bad_id.ok());
  CHECK_THAT(bad_id.error().message(), Catch::Contains("invalid container id"));
  f.pipeline.backend = [](const NodeConfig&, std::optional<backends::Kind>)
      -> Result<std::unique_ptr<backends::Backend>> { return fail("no backend here"); };
  auto no_backend = prepare(f.node, "c5", f.root / "bundle", f.pipeline);
  REQUIRE_FALSE(no_backend.ok());
  CHECK_THAT(no_backend.error().message(), Catch::Contains("backend: no backend here"));
  CHECK_FALSE(fs::exists(f.root / "run"));
  CHECK_FALSE(fs::exists(f.root / "logs"));
}

TEST_CASE("default pipeline: the node config's backend kind is the one made") {
  Fixture f;
  auto pl = default_pipeline();
  auto b = pl.backend(f.node, backends::Kind::ns_mount);
  REQUIRE(b.ok());
  CHECK((*b)->kind() == backends::Kind::ns_mount);
}

TEST_CASE("lifecycle: a TPM that does not answer stops the container only with on_failure=require") {
  Fixture f;
  TpmConfig t;
  t.tcti = "swtpm:host=127.0.0.1,port=1";  // nothing listens there
  t.on_failure = TpmOnFailure::require;
  f.node.tpm = t;
  auto p = prepare(f.node, "t1", f.root / "bundle", f.pipeline);
  REQUIRE(p.ok());
  auto s = attach(**p, 1234);
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error().message(), Catch::Contains("tpm"));
  CHECK(f.rec.attaches == 0);
  CHECK_FALSE(fs::exists(f.root / "run/t1"));
  CHECK_FALSE(fs::exists(f.root / "logs/t1"));

  f.node.tpm->on_failure = TpmOnFailure::prefer;
  auto p2 = prepare(f.node, "t2", f.root / "bundle", f.pipeline);
  REQUIRE(p2.ok());
  auto s2 = attach(**p2, 1234);
  REQUIRE(s2.ok());
  CHECK(fs::exists(f.root / "logs/t2/unanchored"));
}
