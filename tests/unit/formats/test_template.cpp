#include <catch2/catch.hpp>
#include <string>
using namespace std::string_literals;

#include "imashim/formats/template.hpp"

using namespace imashim;
using namespace imashim::formats;

TEST_CASE("builtin templates have the kernel's formats", "[formats][template]") {
  struct Case {
    const char* name;
    const char* fmt;
  };
  const Case cases[] = {
      {"ima", "d|n"},
      {"ima-ng", "d-ng|n-ng"},
      {"ima-sig", "d-ng|n-ng|sig"},
      {"ima-ngv2", "d-ngv2|n-ng"},
      {"ima-sigv2", "d-ngv2|n-ng|sig"},
      {"ima-buf", "d-ng|n-ng|buf"},
      {"ima-modsig", "d-ng|n-ng|sig|d-modsig|modsig"},
  };
  for (const auto& c : cases) {
    auto t = builtin_template(c.name);
    REQUIRE(t.ok());
    CHECK((*t)->fmt == c.fmt);
    CHECK((*t)->display_name() == c.name);
  }
  auto draft = builtin_template("ima-ng", TemplateSet::namespace_draft);
  REQUIRE(draft.ok());
  CHECK((*draft)->fmt == "nid|fi|dev|d-ng|n-ng");
  CHECK((*builtin_template("ima", TemplateSet::namespace_draft))->fmt == "nid|fi|dev|d|n");
  CHECK((*builtin_template("ima-buf", TemplateSet::namespace_draft))->fmt == "d-ng|n-ng|buf");
}

TEST_CASE("custom formats", "[formats][template]") {
  auto t = resolve_template("d-ng|n-ng|sig|nid");
  REQUIRE(t.ok());
  CHECK((*t)->name.empty());
  CHECK((*t)->display_name() == "d-ng|n-ng|sig|nid");
  CHECK((*t)->fields.size() == 4);
  CHECK((*t)->field_index("nid") == 3u);
  CHECK(custom_template("d-ng|x").error().message() == "template format 'd-ng|x': unknown field 'x'");
  CHECK(custom_template("d-ng||n-ng").error().message() == "template format 'd-ng||n-ng': empty field at character 5");
  CHECK(custom_template("n-ng|n-ng").error().message() == "template format 'n-ng|n-ng': field 'n-ng' appears twice");
  CHECK_FALSE(custom_template("").ok());
}

TEST_CASE("field data is laid out as the kernel's field_init functions do", "[formats][template]") {
  Bytes d(32, 0xab);
  Bytes ng = field_d_ng(HashAlgo::sha256, d);
  CHECK(to_hex(ByteView(ng).first(8)) == "7368613235363a00");  // "sha256:\0"
  CHECK(ng.size() == 8 + 32);
  Bytes v2 = field_d_ngv2(DigestType::verity, HashAlgo::sha256, d);
  CHECK(std::string(v2.begin(), v2.begin() + 15) == "verity:sha256:\0"s.substr(0, 15));
  CHECK(v2[15] == 0xab);
  CHECK(to_hex(field_n_ng("a b")) == "615f6200");  // space → '_', NUL kept
  CHECK(to_hex(field_nid(4026531840)) == to_hex(as_bytes("mnt-ns=4026531840")) + "00");
  CHECK(to_hex(field_fi(12)) == to_hex(as_bytes("inode=12")) + "00");
  CHECK(to_hex(field_dev("sda1")) == to_hex(as_bytes("dev=sda1")) + "00");
  std::string longname = "/" + std::string(300, 'x') + "/file";
  CHECK(field_text(field_n(longname)) == "file");  // falls back to the file's own name
}

TEST_CASE("digest fields parse strictly", "[formats][template]") {
  const TemplateField& dng = *find_template_field("d-ng");
  const TemplateField& dngv2 = *find_template_field("d-ngv2");
  Bytes d(32, 0x11);
  Bytes field = field_d_ng(HashAlgo::sha256, d);
  auto p = parse_field_digest(dng, field);  // a view into `field`
  REQUIRE(p.ok());
  CHECK(p->algo == HashAlgo::sha256);
  CHECK(Bytes(p->digest.begin(), p->digest.end()) == d);
  auto p2 = parse_field_digest(dngv2, field_d_ngv2(DigestType::ima, HashAlgo::sha256, d));
  REQUIRE(p2.ok());
  CHECK(p2->type == DigestType::ima);
  CHECK(parse_field_digest(dng, field_d_ng(HashAlgo::sha512, d)).error().message() ==
        "field d-ng: byte 8: sha512 digest must be 64 bytes, field has 32");
  CHECK(parse_field_digest(dng, as_bytes("md6:\0abc"s)).error().message() ==
        "field d-ng: byte 0: unknown hash algorithm 'md6'");
  CHECK(parse_field_digest(dng, as_bytes("sha256")).error().message() ==
        "field d-ng: no NUL after the algorithm prefix");
}

TEST_CASE("ascii rendering of fields matches ima_show_template_data_ascii", "[formats][template]") {
  auto show = [](std::string_view id, const Bytes& data) {
    std::string s;
    append_field_ascii(s, *find_template_field(id), data);
    return s;
  };
  Bytes d(4, 0);
  d = {0xde, 0xad, 0xbe, 0xef};
  CHECK(show("d-ng", field_d_ng(HashAlgo::sha1, d)) == "sha1:deadbeef");
  CHECK(show("d-ngv2", field_d_ngv2(DigestType::ima, HashAlgo::sha256, d)) == "ima:sha256:deadbeef");
  CHECK(show("d", d) == "deadbeef");
  CHECK(show("sig", d) == "deadbeef");
  CHECK(show("n-ng", field_n_ng("/bin/sh")) == "/bin/sh");
  CHECK(show("iuid", Bytes{0xe8, 0x03, 0, 0}) == "1000");
  // Old kernels' d-ng for sha1 had an empty algorithm: ":" NUL digest prints the hex only.
  CHECK(show("d-ng", Bytes{':', 0, 0xab}) == "ab");
}
