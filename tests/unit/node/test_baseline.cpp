#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "imashim/node/baseline.hpp"

using namespace imashim;
using namespace imashim::node;
namespace fs = std::filesystem;

namespace {
const std::string kDrift = IMASHIM_FIXTURES "/node/drift";
const std::string kKubeletConf = "/etc/kubernetes/kubelet.conf";
}  // namespace

TEST_CASE("baseline: files and digests of a real kernel log", "[node][baseline]") {
  auto before = files_of_log_file(kDrift + "/before.binary_runtime_measurements");
  REQUIRE(before.ok());
  CHECK(before->entries == 6);  // boot_aggregate + run.sh + 3 node files + node-tool
  CHECK(before->files.size() == 5);
  CHECK_FALSE(before->files.count("boot_aggregate"));
  CHECK(before->files.at(kKubeletConf) ==
        std::set<std::string>{"sha256:96b6f4d6cfe20e14add43844a66a591a22d444a4aa46b8edefe4fd19c59a1dba"});
  auto after = files_of_log_file(kDrift + "/after.binary_runtime_measurements");
  REQUIRE(after.ok());
  CHECK(after->files.at(kKubeletConf).size() == 2);  // measured again after the change
}

TEST_CASE("drift between two real kernel logs names exactly the changed watched file", "[node][baseline]") {
  auto before = files_of_log_file(kDrift + "/before.binary_runtime_measurements");
  auto after = files_of_log_file(kDrift + "/after.binary_runtime_measurements");
  REQUIRE(before.ok());
  REQUIRE(after.ok());
  Baseline b = make_baseline(*before, "before");
  DriftReport r = compute_drift(b, *after, {kKubeletConf, "/var/lib/kubelet/config.yaml", "/usr/bin/kubelet", "/etc/kubernetes/pki/"});
  REQUIRE(r.items.size() == 1);
  CHECK(r.items[0].path == kKubeletConf);
  CHECK(r.items[0].kind == DriftKind::changed);
  CHECK(r.items[0].watched);
  CHECK(r.items[0].current.count("sha256:4176e9cd6eca5130bd45409264922e4b46734d2dda57da5bdd364facfd90b0bf"));
  CHECK(r.watched_drifted());
  CHECK(r.watched_unmeasured == std::vector<std::string>{"/usr/bin/kubelet"});
  // Nothing drifts against itself.
  CHECK_FALSE(compute_drift(make_baseline(*after, "after"), *after, {}).drifted());
}

TEST_CASE("drift: new and missing files; trees in the watched list", "[node][baseline]") {
  Baseline b;
  b.files["/usr/bin/a"] = {"sha256:aa"};
  b.files["/usr/bin/gone"] = {"sha256:bb"};
  LogFiles now;
  now.files["/usr/bin/a"] = {"sha256:aa"};
  now.files["/usr/bin/new"] = {"sha256:cc"};
  DriftReport r = compute_drift(b, now, {"/usr/bin/"});
  REQUIRE(r.items.size() == 2);
  CHECK(r.items[0].path == "/usr/bin/gone");
  CHECK(r.items[0].kind == DriftKind::missing);
  CHECK(r.items[1].kind == DriftKind::added);
  CHECK(r.items[1].watched);
  auto j = r.to_json();
  CHECK(j["counts"]["new"] == 1);
  CHECK(j["counts"]["missing"] == 1);
  CHECK(j["items"][1]["kind"] == "new");
}

TEST_CASE("baseline: JSON round trip through a file; bad baselines name the problem", "[node][baseline]") {
  auto after = files_of_log_file(kDrift + "/after.binary_runtime_measurements");
  REQUIRE(after.ok());
  fs::path dir = fs::temp_directory_path() / "imashim-unit-baseline";
  fs::create_directories(dir);
  Baseline b = make_baseline(*after, "after");
  REQUIRE(write_baseline(b, dir / "b.json").ok());
  CHECK_FALSE(fs::exists(dir / "b.json.tmp"));
  auto back = read_baseline(dir / "b.json");
  REQUIRE(back.ok());
  CHECK(back->files == b.files);
  CHECK(back->source == "after");
  std::ofstream(dir / "bad.json") << R"({"format":"imashim-baseline-1","files":{"/x":"sha256:aa"}})";
  auto bad = read_baseline(dir / "bad.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message().ends_with("files[\"/x\"] must be an array of digests"));
  std::ofstream(dir / "other.json") << "[]";
  CHECK(read_baseline(dir / "other.json").error().message().find("not an imashim baseline") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("baseline: a truncated log is an error naming the entry", "[node][baseline]") {
  std::ifstream in(kDrift + "/before.binary_runtime_measurements", std::ios::binary);
  Bytes data((std::istreambuf_iterator<char>(in)), {});
  data.resize(data.size() - 10);
  auto r = files_of_log(data);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("entry 5") != std::string::npos);
}

TEST_CASE("log source: file, container, kernel; bad container ids", "[node][baseline]") {
  CHECK(*log_path({std::nullopt, ""}, "/x") == "/sys/kernel/security/ima/binary_runtime_measurements");
  CHECK(*log_path({fs::path("/tmp/l"), ""}, "/x") == "/tmp/l");
  CHECK(log_path({std::nullopt, "../etc"}, "/x").error().message() == "container id `../etc`: not a plain name");
  CHECK(log_path({std::nullopt, "c9"}, "/nonexistent").error().message().starts_with("container `c9`: no measurement log at"));
}
