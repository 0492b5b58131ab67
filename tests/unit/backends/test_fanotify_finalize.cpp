// The monitor's exit syncs (shim/backends/fanotify/sync_threads.cpp) and the
// pcrs files they make durable (finalize.cpp).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "../../../shim/backends/fanotify/monitor_internal.hpp"

namespace fs = std::filesystem;
using namespace imashim;
using namespace imashim::backends::fanotify;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/imashim-finalize.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("run_syncs: every job runs, on the threads when started, the first failure is returned") {
  for (unsigned threads : {0u, 1u, 4u}) {
    if (threads) start_sync_threads(threads);
    std::atomic<int> ran{0};
    std::vector<SyncJob> jobs;
    for (int i = 0; i < 6; ++i) jobs.push_back([&ran]() -> Result<void> { ++ran; return {}; });
    CHECK(run_syncs(jobs).ok());
    CHECK(ran == 6);
    jobs.push_back([]() -> Result<void> { return fail("fsync `x`: disk gone"); });
    auto r = run_syncs(jobs);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message(), Catch::Contains("disk gone"));
    CHECK(ran == 12);
    if (threads) stop_sync_threads();
  }
}

TEST_CASE("finalize_log: pcrs files in place only once every sync succeeded") {
  TempDir d;
  start_sync_threads(4);
  bool also_ran = false;
  REQUIRE(finalize_log(d.path, {[&]() -> Result<void> { also_ran = true; return {}; }}).ok());
  CHECK(also_ran);
  CHECK(fs::exists(d.path / "pcrs"));
  CHECK(fs::exists(d.path / "pcrs-sha1"));
  CHECK(fs::exists(d.path / "pcrs-sha256"));
  CHECK(files_in(d.path) == 3);  // no temp file left

  TempDir e;
  auto failed = finalize_log(e.path, {[]() -> Result<void> { return fail("fdatasync binary measurement log"); }});
  stop_sync_threads();
  REQUIRE_FALSE(failed.ok());
  CHECK(files_in(e.path) == 0);  // neither pcrs files nor their temp files
}
