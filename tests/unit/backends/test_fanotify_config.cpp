// The fanotify backend's configuration, attach-time input checks and v2 signature verification.
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <fstream>

#include "imashim/backends/fanotify.hpp"
#include "imashim/backends/fanotify_engine.hpp"
#include "imashim/formats/ima_xattr.hpp"

using namespace imashim;
using namespace imashim::backends;
using namespace imashim::backends::fanotify;

TEST_CASE("fanotify: monitor config round-trips through JSON", "[fanotify]") {
  AttachRequest r;
  r.container_id = "c1";
  r.init_pid = 1234;
  r.policy_text = "measure func=BPRM_CHECK\n";
  r.mode = Mode::enforce;
  r.hash_algo = formats::HashAlgo::sha512;
  r.template_name = "ima-sig";
  r.log_dir = "/var/lib/imashim/containers/c1";
  r.state_dir = "/run/imashim/c1";
  r.manifests = {"/var/lib/imashim/layers/a/manifest"};
  FanotifyOptions o;
  o.keys = {"/etc/keys/x509_ima.der"};
  o.ignore_marks = false;
  o.workers = 3;
  auto c = MonitorConfig::from_request(r, o);
  auto back = MonitorConfig::from_json(c.to_json());
  REQUIRE(back.ok());
  CHECK(back->container_id == "c1");
  CHECK(back->init_pid == 1234);
  CHECK(back->policy_text == r.policy_text);
  CHECK(back->mode == Mode::enforce);
  CHECK(back->hash_algo == formats::HashAlgo::sha512);
  CHECK(back->template_name == "ima-sig");
  CHECK(back->log_dir == r.log_dir);
  CHECK(back->manifests == r.manifests);
  CHECK(back->keys == o.keys);
  CHECK_FALSE(back->ignore_marks);
  CHECK(back->workers == 3);
}

TEST_CASE("fanotify: bad monitor configs are refused with the reason", "[fanotify]") {
  nlohmann::json good = {{"container_id", "c"}, {"init_pid", 5}, {"log_dir", "/tmp/l"}};
  REQUIRE(MonitorConfig::from_json(good).ok());
  auto with = [&](const char* key, nlohmann::json v) {
    auto j = good;
    j[key] = std::move(v);
    auto r = MonitorConfig::from_json(j);
    REQUIRE_FALSE(r.ok());
    return r.error().message();
  };
  CHECK(with("mode", "off").find("mode") != std::string::npos);
  CHECK(with("hash_algo", "md9").find("hash_algo") != std::string::npos);
  CHECK(with("init_pid", 0).find("init_pid") != std::string::npos);
  CHECK(with("log_dir", "relative/dir").find("absolute") != std::string::npos);
  CHECK(with("workers", 0).find("workers") != std::string::npos);
  CHECK_FALSE(MonitorConfig::from_json(nlohmann::json::array()).ok());
  CHECK_FALSE(MonitorConfig::from_json({{"init_pid", 5}}).ok());
}

TEST_CASE("fanotify backend: attach checks its input before starting anything", "[fanotify]") {
  auto backend = make_fanotify_backend();
  CHECK(backend->kind() == Kind::fanotify);
  CHECK(backend->capabilities().enforce);
  AttachRequest r;
  r.container_id = "c1";
  r.init_pid = 1;
  r.log_dir = "/tmp/x";
  r.mode = Mode::off;
  auto a = backend->attach(r);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message().find("mode off") != std::string::npos);
  r.mode = Mode::measure;
  r.log_dir = "relative";
  a = backend->attach(r);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message().find("absolute") != std::string::npos);
  r.log_dir = std::filesystem::temp_directory_path() / "imashim-fanotify-unit";
  r.policy_text = "measure func=NO_SUCH_HOOK\n";
  a = backend->attach(r);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message().find("container policy") != std::string::npos);
  std::filesystem::remove_all(r.log_dir);
  SECTION("detach of nothing is fine, twice") {
    Attachment none;
    AttachRequest dr;
    CHECK(backend->detach(none, dr).ok());
    CHECK(backend->detach(none, dr).ok());
  }
}

namespace {

struct RsaKey {
  EVP_PKEY* key = nullptr;
  ~RsaKey() { EVP_PKEY_free(key); }
};

Bytes sign(EVP_PKEY* key, ByteView digest) {
  auto ctx = EVP_PKEY_CTX_new(key, nullptr);
  REQUIRE(EVP_PKEY_sign_init(ctx) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1);
  REQUIRE(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1);
  size_t len = 0;
  REQUIRE(EVP_PKEY_sign(ctx, nullptr, &len, digest.data(), digest.size()) == 1);
  Bytes sig(len);
  REQUIRE(EVP_PKEY_sign(ctx, sig.data(), &len, digest.data(), digest.size()) == 1);
  sig.resize(len);
  EVP_PKEY_CTX_free(ctx);
  return sig;
}

// evmctl's key id for a bare public key: last 4 bytes of SHA-1 over its DER.
std::uint32_t keyid(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PublicKey(key, &der);
  unsigned char md[20];
  EVP_Digest(der, static_cast<size_t>(len), md, nullptr, EVP_sha1(), nullptr);
  OPENSSL_free(der);
  return get_be32(md + 16);
}

}  // namespace

TEST_CASE("fanotify: v2 signatures verify against configured keys", "[fanotify]") {
  RsaKey k;
  k.key = EVP_RSA_gen(2048);
  REQUIRE(k.key);
  auto pem = std::filesystem::temp_directory_path() / "imashim-fanotify-unit-key.pem";
  {
    FILE* f = std::fopen(pem.c_str(), "w");
    REQUIRE(f);
    PEM_write_PUBKEY(f, k.key);
    std::fclose(f);
  }
  auto ring = load_keys({pem});
  std::filesystem::remove(pem);
  REQUIRE(ring.ok());
  auto content = Bytes{'s', 'i', 'g', 'n', 'e', 'd'};
  auto digest = *formats::hash_bytes(formats::HashAlgo::sha256, content);
  formats::SignatureV2 s;
  s.hash_algo = formats::HashAlgo::sha256;
  s.keyid = keyid(k.key);
  s.signature = sign(k.key, digest);
  auto xattr = *formats::encode_signature_v2(s);
  CHECK(*(*ring)->verify(xattr, formats::HashAlgo::sha256, digest));
  auto other = *formats::hash_bytes(formats::HashAlgo::sha256, Bytes{'x'});
  CHECK_FALSE(*(*ring)->verify(xattr, formats::HashAlgo::sha256, other));
  s.keyid ^= 1;  // a key nobody configured
  CHECK_FALSE(*(*ring)->verify(*formats::encode_signature_v2(s), formats::HashAlgo::sha256, digest));
  s.keyid ^= 1;

  SECTION("the engine appraises signed files") {
    auto policy = make_policy_view("appraise func=BPRM_CHECK\n");
    REQUIRE(policy.ok());
    Engine engine({"c", Mode::enforce, formats::HashAlgo::sha256, "ima-sig"}, std::move(*policy), nullptr, nullptr,
                  nullptr, std::move(*ring));
    FileEvent e;
    e.kind = EventKind::exec;
    e.path = "/bin/signed";
    e.version = {1, 2, 3, 3, 6};
    MemoryContent good(content, xattr);
    CHECK(engine.decide(e, good).allow);
    e.version.ino = 3;
    MemoryContent tampered(Bytes{'t', 'a', 'm', 'p', 'e', 'r'}, xattr);
    auto v = engine.decide(e, tampered);
    CHECK_FALSE(v.allow);
    CHECK(v.cause == "invalid-signature");
  }
  SECTION("a key file that is neither a certificate nor a key is an error naming it") {
    auto bad = std::filesystem::temp_directory_path() / "imashim-fanotify-unit-bad.pem";
    std::ofstream(bad) << "not a key\n";
    auto r = load_keys({bad});
    std::filesystem::remove(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find(bad.string()) != std::string::npos);
  }
}
