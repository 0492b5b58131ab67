#include <catch2/catch.hpp>

#include "imashim/tpm/reference.hpp"

using namespace imashim;
using namespace imashim::tpm;

namespace {
Bytes digest_of(const std::string& s) { return *formats::hash_bytes(formats::HashAlgo::sha256, as_bytes(s)); }
}  // namespace

TEST_CASE("the Keylime export has every member of the runtime policy schema", "[tpm][keylime]") {
  Reference ref;
  ref.add("/bin/sh", digest_of("sh"));
  ref.add("/bin/sh", digest_of("sh v2"));
  ref.add("/bin/ls", digest_of("ls"));
  KeylimeExportOptions opts;
  opts.excludes = {"/tmp/.*"};
  opts.release = 3;
  auto j = keylime_policy(ref, opts);
  for (const char* key : {"meta", "release", "digests", "excludes", "keyrings", "ima", "ima-buf", "verification-keys"})
    CHECK(j.contains(key));
  CHECK(j["meta"]["version"] == 1);
  CHECK(j["meta"]["generator"].is_number_integer());
  CHECK(j["meta"]["timestamp"].is_string());
  CHECK(j["release"] == 3);
  CHECK(j["digests"]["/bin/sh"].size() == 2);
  CHECK(j["digests"]["/bin/ls"][0] == to_hex(digest_of("ls")));
  CHECK(j["ima"]["log_hash_alg"] == "sha1");
  CHECK(j["ima"]["dm_policy"].is_null());
  CHECK(j["ima"]["ignored_keyrings"].is_array());
  CHECK(j["keyrings"].is_object());
  CHECK(j["ima-buf"].is_object());
  CHECK(j["verification-keys"] == "");

  auto back = reference_from_keylime(j.dump(), "policy.json");
  REQUIRE(back);
  CHECK(back->check("/bin/sh", digest_of("sh v2")) == FileVerdict::ok);
  CHECK(back->check("/bin/sh", digest_of("other")) == FileVerdict::wrong_digest);
  CHECK(back->check("/bin/cat", digest_of("cat")) == FileVerdict::unknown_file);
  CHECK(back->check("/tmp/x", digest_of("x")) == FileVerdict::excluded);
  CHECK(back->check("/var/tmp/x", digest_of("x")) == FileVerdict::unknown_file);  // matched from the start
}

TEST_CASE("a bad Keylime policy is an error naming the file and the member", "[tpm][keylime]") {
  auto base = keylime_policy(Reference{}, {});
  auto err = [](const nlohmann::json& j) {
    auto r = reference_from_keylime(j.dump(), "p.json");
    REQUIRE_FALSE(r);
    return r.error().message();
  };
  auto j = base;
  j.erase("digests");
  CHECK_THAT(err(j), Catch::Contains("p.json") && Catch::Contains("\"digests\""));
  j = base;
  j["meta"]["version"] = 2;
  CHECK_THAT(err(j), Catch::Contains("version"));
  j = base;
  j["digests"]["/bin/sh"] = {"xyz"};
  CHECK_THAT(err(j), Catch::Contains("/bin/sh"));
  j = base;
  j["excludes"] = {"("};
  CHECK_THAT(err(j), Catch::Contains("regular expression"));
  CHECK_FALSE(reference_from_keylime("{not json", "p.json"));
  CHECK_THAT(err(nlohmann::json{{"payload", "x"}}), Catch::Contains("signed"));
}
