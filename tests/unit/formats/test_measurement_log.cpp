#include <catch2/catch.hpp>
#include <string>
using namespace std::string_literals;

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "imashim/formats/measurement_log.hpp"

using namespace imashim;
using namespace imashim::formats;

// Known answers computed independently (Python hashlib/struct) from the layouts in the
// kernel's ima_fs.c (ima_measurements_show) and ima_crypto.c (ima_calc_field_array_hash).
namespace {
Bytes hex(std::string_view h) { return *from_hex(h); }
const char* kSha256Abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
// ima-ng entry for "/usr/bin/busy box" (logged as busy_box), sha256("abc"), PCR 10.
const char* kNgEntry =
    "0a0000002edb377333f84669e59feea7c15a4b4a90c7719106000000696d612d6e6742000000280000007368613235363a00ba7816bf8f"
    "01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad120000002f7573722f62696e2f627573795f626f7800";
const char* kNgSha1 = "2edb377333f84669e59feea7c15a4b4a90c77191";
const char* kNgSha256 = "ebb00d52c5e2c0c9ee449c326038b7d4877ecc66c4bf429c99af4a528a4f706b";
// ima template entry for "/bin/sh", sha1("abc").
const char* kImaEntry =
    "0a00000030e3a853f12bf247a79b73e61d54fd3b0d84142203000000696d61a9993e364706816aba3e25717850c26c9cd0d89d07000000"
    "2f62696e2f7368";
const char* kImaSha256 = "15f25ca48b86f447e50815b49621b00cfcf8c617569bb944b6ae8cb138408bfa";
// PCR 10 after the ima-ng entry and then one violation.
const char* kPcrSha1 = "c01224f307f38bf74ab765832b25ecfdd64ba5a4";
const char* kPcrSha256 = "d6eb45ef0bbc27857714b7f0201d32d1c774791bc8670b3d0a9cddb80227b945";

Measurement ng_measurement() {
  Measurement m;
  m.path = "/usr/bin/busy box";
  m.algo = HashAlgo::sha256;
  m.digest = hex(kSha256Abc);
  return m;
}

Bytes violation_entry() {
  LogEntry v = *build_entry(*builtin_template("ima-ng"), [] {
    Measurement m = ng_measurement();
    m.violation = true;
    return m;
  }());
  Bytes zero(20, 0);
  return encode_binary_entry(*view_of(v, zero), ByteOrder::little);
}
}  // namespace

TEST_CASE("an ima-ng entry is written byte for byte as the kernel does", "[formats][log]") {
  auto e = build_entry(*builtin_template("ima-ng"), ng_measurement());
  REQUIRE(e.ok());
  Bytes zero(20, 0);
  auto v = view_of(*e, zero, ByteOrder::little);
  REQUIRE(v.ok());
  CHECK(to_hex(*template_digest(HashAlgo::sha1, *v)) == kNgSha1);
  CHECK(to_hex(*template_digest(HashAlgo::sha256, *v)) == kNgSha256);
  Bytes sha1 = hex(kNgSha1);
  v->template_digest = sha1;
  CHECK(to_hex(encode_binary_entry(*v, ByteOrder::little)) == kNgEntry);
  CHECK(format_ascii_entry(*v) ==
        std::string("10 ") + kNgSha1 + " ima-ng sha256:" + kSha256Abc + " /usr/bin/busy_box\n");
}

TEST_CASE("reading an ima-ng entry", "[formats][log]") {
  Bytes log = hex(kNgEntry);
  LogReader r(log, {ByteOrder::little});
  auto e = r.next();
  REQUIRE(e.ok());
  REQUIRE(e->has_value());
  const EntryView& v = **e;
  CHECK(v.pcr == 10);
  CHECK(v.template_name == "ima-ng");
  CHECK(v.path() == "/usr/bin/busy_box");
  CHECK(v.size == log.size());
  auto d = v.file_digest();
  REQUIRE(d.ok());
  CHECK(d->algo == HashAlgo::sha256);
  CHECK(to_hex(d->digest) == kSha256Abc);
  CHECK(to_hex(*template_digest(HashAlgo::sha256, v)) == kNgSha256);
  auto end = r.next();
  REQUIRE(end.ok());
  CHECK_FALSE(end->has_value());
}

TEST_CASE("the ima template: no data length, n without NUL, n padded to 256 when hashed", "[formats][log]") {
  Bytes log = hex(kImaEntry);
  LogReader r(log, {ByteOrder::little});
  auto e = r.next();
  REQUIRE(e.ok());
  REQUIRE(e->has_value());
  CHECK((*e)->path() == "/bin/sh");
  CHECK(to_hex(*template_digest(HashAlgo::sha1, **e)) == to_hex((*e)->template_digest));
  CHECK(to_hex(*template_digest(HashAlgo::sha256, **e)) == kImaSha256);
  CHECK(to_hex(encode_binary_entry(**e, ByteOrder::little)) == kImaEntry);
  CHECK(format_ascii_entry(**e) ==
        "10 30e3a853f12bf247a79b73e61d54fd3b0d841422 ima a9993e364706816aba3e25717850c26c9cd0d89d /bin/sh\n");
  // The same entry built from a measurement.
  Measurement m;
  m.path = "/bin/sh";
  m.algo = HashAlgo::sha1;
  m.digest = hex("a9993e364706816aba3e25717850c26c9cd0d89d");
  auto built = build_entry(*builtin_template("ima"), m);
  REQUIRE(built.ok());
  Bytes zero(20, 0);
  CHECK(to_hex(*template_digest(HashAlgo::sha1, *view_of(*built, zero))) == "30e3a853f12bf247a79b73e61d54fd3b0d841422");
}

TEST_CASE("replay extends the template digest per bank and 0xff.. for violations", "[formats][log]") {
  Bytes log = hex(kNgEntry);
  Bytes viol = violation_entry();
  log.insert(log.end(), viol.begin(), viol.end());
  ReplayOptions opts;
  opts.read.order = ByteOrder::little;
  auto r = replay_log(log, opts);
  REQUIRE(r.ok());
  CHECK(r->entries == 2);
  CHECK(r->violations == 1);
  CHECK_FALSE(r->first_bad_entry);
  CHECK(to_hex(find_bank(r->banks, HashAlgo::sha1)->value(10)) == kPcrSha1);
  CHECK(to_hex(find_bank(r->banks, HashAlgo::sha256)->value(10)) == kPcrSha256);

  PcrValues want;
  want[HashAlgo::sha256][10] = hex(kPcrSha256);
  auto ok = verify_log(log, want, opts);
  REQUIRE(ok.ok());
  CHECK(ok->ok());

  // The PCR was read after the first entry only: the second entry is named.
  PcrValues early;
  Bytes one = hex(kNgEntry);
  auto first = replay_log(one, opts);
  early[HashAlgo::sha1][10] = find_bank(first->banks, HashAlgo::sha1)->value(10);
  auto v = verify_log(log, early, opts);
  REQUIRE(v.ok());
  CHECK_FALSE(v->ok());
  REQUIRE(v->first_divergent);
  CHECK(v->first_divergent->index == 1);
  CHECK(v->first_divergent->offset == one.size());
}

TEST_CASE("a changed byte is found and its entry named", "[formats][log]") {
  Bytes log = hex(kNgEntry);
  Bytes second = hex(kNgEntry);
  log.insert(log.end(), second.begin(), second.end());
  log[log.size() / 2 + 60] ^= 0x01;  // inside the second entry's digest field
  ReplayOptions opts;
  opts.read.order = ByteOrder::little;
  auto r = replay_log(log, opts);
  REQUIRE(r.ok());
  REQUIRE(r->first_bad_entry);
  CHECK(r->first_bad_entry->index == 1);
  CHECK(r->first_bad_entry->offset == second.size());
}

TEST_CASE("truncated and corrupt logs: errors name the entry and the byte", "[formats][log]") {
  Bytes entry = hex(kNgEntry);
  Bytes log = entry;
  log.insert(log.end(), entry.begin(), entry.end() - 10);
  LogReader r(log, {ByteOrder::little});
  REQUIRE(r.next().ok());
  auto e = r.next();
  REQUIRE_FALSE(e.ok());
  CHECK(r.truncated());
  CHECK(e.error().message() == "entry 1 at byte 104: template data of 66 bytes needs 66 bytes, 56 left in the log (byte 142)");

  Bytes bad = entry;
  bad[27] = 0x01;  // name length (little-endian, bytes 24..27)
  LogReader r2(bad, {ByteOrder::little});
  auto e2 = r2.next();
  REQUIRE_FALSE(e2.ok());
  CHECK_FALSE(r2.truncated());
  CHECK(e2.error().message() == "entry 0 at byte 0: template name length 16777222 is not in 1..255 (byte 24)");

  Bytes badfield = entry;
  badfield[38] = 0x50;  // first field length > template data
  LogReader r3(badfield, {ByteOrder::little});
  auto e3 = r3.next();
  REQUIRE_FALSE(e3.ok());
  CHECK(e3.error().message() == "entry 0 at byte 0: field d-ng of 80 bytes runs past the template data (byte 42)");
}

TEST_CASE("canonical (little-endian) and big-endian logs", "[formats][log]") {
  Bytes le = hex(kNgEntry);
  auto be = convert_byte_order(le, {ByteOrder::little}, ByteOrder::big);
  REQUIRE(be.ok());
  CHECK(to_hex(ByteView(*be).first(4)) == "0000000a");
  LogReadOptions beo;
  beo.order = ByteOrder::big;
  auto ascii = binary_to_ascii(*be, beo);
  REQUIRE(ascii.ok());
  CHECK(*ascii == *binary_to_ascii(le, {ByteOrder::little}));
  ReplayOptions ro;
  ro.read = beo;
  auto r = replay_log(*be, ro);
  REQUIRE(r.ok());
  CHECK(r->first_bad_entry.has_value());  // big-endian lengths hash differently: the sha1 no longer matches
  CHECK(*convert_byte_order(*be, beo, ByteOrder::little) == le);
}

TEST_CASE("2017 namespace draft entries are recognised by their nid field", "[formats][log]") {
  Measurement m = ng_measurement();
  m.mnt_ns = 4026532200;
  m.inode = 1234;
  m.dev = "overlay";
  auto t = builtin_template("ima-ng", TemplateSet::namespace_draft);
  auto e = build_entry(*t, m);
  REQUIRE(e.ok());
  Bytes zero(20, 0);
  auto v = view_of(*e, zero);
  Bytes sha1 = *template_digest(HashAlgo::sha1, *v);
  v->template_digest = sha1;
  Bytes log = encode_binary_entry(*v);
  LogReader r(log);
  auto got = r.next();
  REQUIRE(got.ok());
  CHECK((*got)->desc->fmt == "nid|fi|dev|d-ng|n-ng");
  CHECK(field_text(*(*got)->field("nid")) == "mnt-ns=4026532200");
  CHECK(format_ascii_entry(**got) == "10 " + to_hex(sha1) + " ima-ng mnt-ns=4026532200 inode=1234 dev=overlay sha256:" +
                                         kSha256Abc + " /usr/bin/busy_box\n");
}

TEST_CASE("custom templates are named by their format", "[formats][log]") {
  auto t = custom_template("d-ng|n-ng|buf");
  Measurement m = ng_measurement();
  m.buf = {1, 2, 3};
  auto e = build_entry(*t, m);
  Bytes zero(20, 0);
  auto v = view_of(*e, zero);
  Bytes log = encode_binary_entry(*v);
  auto ascii = binary_to_ascii(log);
  REQUIRE(ascii.ok());
  CHECK(*ascii == std::string("10 0000000000000000000000000000000000000000 d-ng|n-ng|buf sha256:") + kSha256Abc +
                      " /usr/bin/busy_box 010203\n");
}

TEST_CASE("boot_aggregate", "[formats][log]") {
  std::vector<Bytes> pcrs(10, Bytes(32, 0));
  auto agg = boot_aggregate(HashAlgo::sha256, pcrs);
  REQUIRE(agg.ok());
  // sha256 of 10 * 32 zero bytes
  CHECK(to_hex(*agg) == to_hex(*hash_bytes(HashAlgo::sha256, Bytes(320, 0))));
  std::vector<Bytes> sha1pcrs(8, Bytes(20, 0));
  CHECK(to_hex(*boot_aggregate(HashAlgo::sha1, sha1pcrs)) == to_hex(*hash_bytes(HashAlgo::sha1, Bytes(160, 0))));
  auto e = boot_aggregate_entry(*builtin_template("ima-ng"), HashAlgo::sha256, *agg);
  REQUIRE(e.ok());
  CHECK(field_text(e->fields[1]) == "boot_aggregate");
}
