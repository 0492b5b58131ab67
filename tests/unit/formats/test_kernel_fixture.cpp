// A log written by a real IMA kernel (Debian 6.1 under QEMU with swtpm, see
// tests/fixtures/kernel-ima/README): parsed, printed byte-identical to the kernel's
// ascii file, and replayed to the TPM's PCR 10 in both banks.
#include <catch2/catch.hpp>

#include <string>

#include "imashim/formats/measurement_log.hpp"

using namespace imashim;
using namespace imashim::formats;

namespace {
const std::string kDir = std::string(IMASHIM_FIXTURES) + "/kernel-ima/";
std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }
}  // namespace

TEST_CASE("kernel log: ascii output is byte-identical to the kernel's", "[formats][kernel-fixture]") {
  auto bin = read_whole_file(kDir + "binary_runtime_measurements");
  auto ascii = read_whole_file(kDir + "ascii_runtime_measurements");
  REQUIRE(bin.ok());
  REQUIRE(ascii.ok());
  auto ours = binary_to_ascii(*bin);
  REQUIRE(ours.ok());
  CHECK(*ours == text(*ascii));
}

TEST_CASE("kernel log: entries, boot_aggregate and the violation", "[formats][kernel-fixture]") {
  auto bin = read_whole_file(kDir + "binary_runtime_measurements");
  REQUIRE(bin.ok());
  LogReader r(*bin);
  std::vector<std::string> paths;
  std::size_t violations = 0;
  for (;;) {
    auto e = r.next();
    REQUIRE(e.ok());
    if (!*e) break;
    paths.emplace_back((*e)->path());
    CHECK((*e)->template_name == "ima-ng");
    auto d = (*e)->file_digest();
    REQUIRE(d.ok());
    CHECK(d->algo == HashAlgo::sha256);
    if ((*e)->is_violation()) {
      ++violations;
      CHECK(d->is_zero());
    } else {
      // Every non-violation entry's logged sha1 is the sha1 of its template data.
      CHECK(to_hex(*template_digest(HashAlgo::sha1, **e)) == to_hex((*e)->template_digest));
    }
  }
  REQUIRE(paths.size() == 7);
  CHECK(paths.front() == "boot_aggregate");
  CHECK(violations == 1);
}

TEST_CASE("kernel log: replays to the TPM's PCR 10 in the sha1 and sha256 banks", "[formats][kernel-fixture]") {
  auto bin = read_whole_file(kDir + "binary_runtime_measurements");
  REQUIRE(bin.ok());
  PcrValues want;
  for (HashAlgo bank : {HashAlgo::sha1, HashAlgo::sha256}) {
    auto pcr = read_whole_file(kDir + "pcr-" + std::string(hash_algo_name(bank)) + ".txt");
    REQUIRE(pcr.ok());
    auto v = parse_pcr_text(text(*pcr), bank);
    REQUIRE(v.ok());
    want[bank] = (*v)[bank];
  }
  auto r = verify_log(*bin, want);
  REQUIRE(r.ok());
  CHECK(r->entries == 7);
  CHECK(r->violations == 1);
  REQUIRE(r->checks.size() == 2);
  for (const auto& c : r->checks) {
    INFO(hash_algo_name(c.bank));
    CHECK(c.match);
  }
  CHECK(r->ok());

  // Without the violation's 0xff.. extension the sha256 bank would not match.
  Bytes truncated(*bin);
  LogReader rd(*bin);
  std::size_t last = 0;
  for (;;) {
    auto e = rd.next();
    if (!e.ok() || !*e) break;
    last = (*e)->offset;
  }
  truncated.resize(last);
  auto r2 = verify_log(truncated, want);
  REQUIRE(r2.ok());
  CHECK_FALSE(r2->ok());
}

TEST_CASE("kernel log: canonical round trip and a flipped byte", "[formats][kernel-fixture]") {
  auto bin = read_whole_file(kDir + "binary_runtime_measurements");
  REQUIRE(bin.ok());
  auto canon = convert_byte_order(*bin, {}, kCanonical);
  REQUIRE(canon.ok());
  CHECK(*canon == *bin);  // captured on x86-64: native is the canonical order
  Bytes bad(*bin);
  bad[bad.size() / 2] ^= 0x20;
  auto r = replay_log(bad);
  bool rejected = !r.ok() || r->first_bad_entry.has_value();
  CHECK(rejected);
}

TEST_CASE("kernel log: path -> digest list", "[formats][kernel-fixture]") {
  auto bin = read_whole_file(kDir + "binary_runtime_measurements");
  REQUIRE(bin.ok());
  auto list = list_file_measurements(*bin);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 7);
  CHECK((*list)[1].path == "/host/run.sh");
  CHECK((*list)[1].algo == HashAlgo::sha256);
  CHECK(to_hex((*list)[1].digest) == "4606296a96b00e442de10d1cb209b7785ef89891fd1ce7589d337d0ca14abffa");
  CHECK((*list)[6].violation);
  CHECK((*list)[6].path == "/mnt/data.txt");
}
