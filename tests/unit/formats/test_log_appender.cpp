#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "imashim/formats/measurement_log.hpp"

using namespace imashim;
using namespace imashim::formats;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/imashim-appender-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

Measurement file_measurement(const std::string& path, std::uint8_t fill) {
  Measurement m;
  m.path = path;
  m.algo = HashAlgo::sha256;
  m.digest.assign(32, fill);
  return m;
}

std::string slurp(const fs::path& p) {
  auto b = read_whole_file(p);
  return std::string(b->begin(), b->end());
}
}  // namespace

TEST_CASE("appender writes both files and keeps banks equal to a replay", "[formats][appender]") {
  TempDir d;
  auto bin = d.path / "binary_runtime_measurements", ascii = d.path / "ascii_runtime_measurements";
  auto tmpl = *builtin_template("ima-ng");
  {
    auto a = MeasurementLogAppender::open(bin, ascii);
    REQUIRE(a.ok());
    REQUIRE(a->append(*boot_aggregate_entry(tmpl, HashAlgo::sha256, Bytes(32, 0))).ok());
    auto r = a->append(tmpl, file_measurement("/bin/sh", 1));
    REQUIRE(r.ok());
    CHECK(r->index == 1);
    Measurement v = file_measurement("/etc/passwd", 0);
    v.violation = true;
    auto rv = a->append(tmpl, v);
    REQUIRE(rv.ok());
    CHECK(rv->sha1 == Bytes(20, 0));
    CHECK(rv->digests[1].second == Bytes(32, 0xff));
    CHECK(a->entries() == 3);
    auto replay = replay_log(*read_whole_file(bin));
    REQUIRE(replay.ok());
    CHECK(replay->first_bad_entry == std::nullopt);
    for (HashAlgo b : {HashAlgo::sha1, HashAlgo::sha256})
      CHECK(find_bank(a->banks(), b)->value(10) == find_bank(replay->banks, b)->value(10));
    CHECK(slurp(ascii) == *binary_to_ascii(*read_whole_file(bin)));
    // A second writer is refused while this one holds the log.
    auto second = MeasurementLogAppender::open(bin, ascii);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().message().find("in use by another writer") != std::string::npos);
  }
  // Reopening continues the same banks.
  auto a = MeasurementLogAppender::open(bin, ascii);
  REQUIRE(a.ok());
  CHECK(a->entries() == 3);
  CHECK(a->recovered_bytes() == 0);
  REQUIRE(a->append(tmpl, file_measurement("/bin/ls", 2)).ok());
  auto replay = replay_log(*read_whole_file(bin));
  CHECK(find_bank(a->banks(), HashAlgo::sha256)->value(10) == find_bank(replay->banks, HashAlgo::sha256)->value(10));
}

TEST_CASE("a torn tail is cut and the ascii file rebuilt on open", "[formats][appender]") {
  TempDir d;
  auto bin = d.path / "bin", ascii = d.path / "ascii";
  auto tmpl = *builtin_template("ima-sig");
  std::uintmax_t clean_size = 0;
  std::string clean_ascii;
  {
    auto a = MeasurementLogAppender::open(bin, ascii);
    REQUIRE(a.ok());
    for (int i = 0; i < 3; ++i) REQUIRE(a->append(tmpl, file_measurement("/f" + std::to_string(i), 7)).ok());
    clean_size = fs::file_size(bin);
    clean_ascii = slurp(ascii);
    REQUIRE(a->append(tmpl, file_measurement("/torn", 8)).ok());
  }
  // A crash in the middle of the fourth entry's binary write, before its ascii line.
  fs::resize_file(bin, clean_size + 30);
  std::string torn_ascii = clean_ascii + "10 0123";
  REQUIRE(write_file_atomic(ascii, torn_ascii).ok());

  auto a = MeasurementLogAppender::open(bin, ascii);
  REQUIRE(a.ok());
  CHECK(a->entries() == 3);
  CHECK(a->recovered_bytes() == 30);
  CHECK(fs::file_size(bin) == clean_size);
  CHECK(slurp(ascii) == clean_ascii);
  REQUIRE(a->append(tmpl, file_measurement("/after", 9)).ok());
  CHECK(slurp(ascii) == *binary_to_ascii(*read_whole_file(bin)));
}

TEST_CASE("corruption inside the log is not silently cut", "[formats][appender]") {
  TempDir d;
  auto bin = d.path / "bin", ascii = d.path / "ascii";
  {
    auto a = MeasurementLogAppender::open(bin, ascii);
    REQUIRE(a.ok());
    REQUIRE(a->append(*builtin_template("ima-ng"), file_measurement("/x", 1)).ok());
  }
  Bytes log = *read_whole_file(bin);
  log[30] = 0x7f;  // inside the template name: an unknown template
  REQUIRE(write_file_atomic(bin, std::string(log.begin(), log.end())).ok());
  auto a = MeasurementLogAppender::open(bin, ascii);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message().find("is corrupt: entry 0 at byte 0") != std::string::npos);
  CHECK(fs::file_size(bin) == log.size());
}

TEST_CASE("the pcrs file evmctl reads", "[formats][appender]") {
  TempDir d;
  auto a = MeasurementLogAppender::open(d.path / "bin", d.path / "ascii");
  REQUIRE(a.ok());
  REQUIRE(a->append(*builtin_template("ima-ng"), file_measurement("/x", 1)).ok());
  REQUIRE(a->write_pcrs_evmctl(d.path / "pcrs", HashAlgo::sha256).ok());
  auto v = parse_pcr_text(slurp(d.path / "pcrs"), HashAlgo::sha256);
  REQUIRE(v.ok());
  CHECK((*v)[HashAlgo::sha256][10] == find_bank(a->banks(), HashAlgo::sha256)->value(10));
  CHECK_FALSE(a->write_pcrs_evmctl(d.path / "p384", HashAlgo::sha384).ok());
}
