#include <catch2/catch.hpp>

#include "imashim/runtime/hook.hpp"
#include "imashim/runtime/runc.hpp"

using namespace imashim::runtime;

TEST_CASE("hook: the OCI state podman sends") {
  auto s = parse_hook_state(
      R"({"ociVersion":"1.0.2-dev","id":"abc","status":"creating","pid":4711,"bundle":"/b","annotations":{}})");
  REQUIRE(s.ok());
  CHECK(s->id == "abc");
  CHECK(s->pid == 4711);
  CHECK(s->bundle == "/b");
  CHECK(hook_stage({"ima-oci-hook", "createRuntime"}, *s).value() == HookStage::create_runtime);
  CHECK(hook_stage({"ima-oci-hook", "poststop"}, *s).value() == HookStage::poststop);
  CHECK(hook_stage({"ima-oci-hook"}, *s).value() == HookStage::create_runtime);
  s->status = "stopped";
  CHECK(hook_stage({"ima-oci-hook"}, *s).value() == HookStage::poststop);
  auto bad = hook_stage({"ima-oci-hook", "poststart"}, *s);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message(), Catch::Contains("poststart"));
}

TEST_CASE("hook: bad state is an error naming what is missing") {
  CHECK_THAT(parse_hook_state("nope").error().message(), Catch::Contains("not a JSON object"));
  CHECK_THAT(parse_hook_state(R"({"bundle":"/b"})").error().message(), Catch::Contains("\"id\""));
  CHECK_THAT(parse_hook_state(R"({"id":"x"})").error().message(), Catch::Contains("\"bundle\""));
}

TEST_CASE("runc log lines in runc's formats") {
  CHECK(runc_log_line("json", "error", "boom \"x\"", "2026-01-02T03:04:05Z") ==
        R"({"level":"error","msg":"boom \"x\"","time":"2026-01-02T03:04:05Z"})");
  CHECK(runc_log_line("text", "error", "boom", "2026-01-02T03:04:05Z") ==
        R"(time="2026-01-02T03:04:05Z" level=error msg="boom")");
}

TEST_CASE("real runc: never ima-runc itself") {
  auto dir = std::filesystem::temp_directory_path() / ("imashim-runc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "a");
  std::filesystem::create_directories(dir / "b");
  std::filesystem::copy_file("/bin/true", dir / "a/runc");
  std::filesystem::create_symlink(dir / "a/runc", dir / "self");
  std::filesystem::copy_file("/bin/true", dir / "b/runc");
  std::string path = (dir / "a").string() + ":" + (dir / "b").string();
  // "self" (ima-runc) is a/runc through a symlink: the search skips it.
  auto r = find_real_runc_in({}, path, dir / "self");
  REQUIRE(r.ok());
  CHECK(*r == dir / "b/runc");
  auto none = find_real_runc_in({}, (dir / "a").string(), dir / "self");
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.error().message(), Catch::Contains("runc not found"));
  auto configured_self = find_real_runc_in(dir / "a/runc", path, dir / "self");
  REQUIRE_FALSE(configured_self.ok());
  CHECK_THAT(configured_self.error().message(), Catch::Contains("ima-runc itself"));
  auto configured_missing = find_real_runc_in(dir / "c/runc", path, dir / "self");
  REQUIRE_FALSE(configured_missing.ok());
  CHECK_THAT(configured_missing.error().message(), Catch::Contains("runc_path"));
  std::filesystem::remove_all(dir);
}
