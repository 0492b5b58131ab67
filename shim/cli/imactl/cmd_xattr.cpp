// imactl xattr show|decode|encode: read and explain security.ima values, or print the
// value the kernel (and evmctl ima_hash) would write for a file.
#include <sys/xattr.h>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "imashim/formats/ima_xattr.hpp"
#include "imashim/formats/measurement_log.hpp"

namespace imashim::imactl {
namespace {

using namespace imashim::formats;
using nlohmann::json;

struct XattrArgs {
  std::vector<std::string> files;
  std::string hex, algo = "sha256";
  bool json = false, ng = false;
};

Result<Bytes> get_xattr(const std::string& path, const char* name) {
  Bytes buf(1024);
  for (;;) {
    ssize_t n = ::lgetxattr(path.c_str(), name, buf.data(), buf.size());
    if (n >= 0) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    if (errno != ERANGE) return fail_errno(fmt::format("{}: {}", path, name));
    buf.resize(buf.size() * 4);
  }
}

json xattr_json(const ImaXattr& x, ByteView raw) {
  json j{{"type", std::string(ima_xattr_type_name(x.type))}, {"hex", to_hex(raw)}, {"description", x.describe()}};
  if (x.algo) j["algo"] = std::string(hash_algo_name(*x.algo));
  if (!x.digest.empty()) j["digest"] = to_hex(x.digest);
  if (x.sig) {
    j["sig_version"] = x.sig->version;
    j["keyid"] = fmt::format("{:08x}", x.sig->keyid);
    j["signature"] = to_hex(x.sig->signature);
  }
  return j;
}

// Prints one decoded value; returns false when it does not decode.
bool print_value(const std::string& label, ByteView raw, bool as_json, json& out) {
  auto x = ImaXattr::decode(raw);
  if (!x) {
    std::cerr << "imactl: " << label << ": " << x.error().message() << "\n";
    return false;
  }
  if (as_json) {
    json j = xattr_json(*x, raw);
    j["source"] = label;
    out.push_back(j);
  } else {
    std::cout << fmt::format("{}: {}\n", label, x->describe());
  }
  return true;
}

int run_show(const XattrArgs& a) {
  json out = json::array();
  int rc = kExitOk;
  for (const auto& f : a.files) {
    auto raw = get_xattr(f, "security.ima");
    if (!raw) {
      rc = report_error(raw.error().message());
      continue;
    }
    if (!print_value(f, *raw, a.json, out)) rc = kExitFailed;
  }
  if (a.json) std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  return rc;
}

int run_decode(const XattrArgs& a) {
  std::string_view h = a.hex;
  if (h.substr(0, 2) == "0x") h.remove_prefix(2);
  auto raw = from_hex(h);
  if (!raw) return report_error("value: " + raw.error().message());
  json out = json::array();
  if (!print_value("value", *raw, a.json, out)) return kExitFailed;
  if (a.json) std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  return kExitOk;
}

int run_encode(const XattrArgs& a) {
  auto algo = hash_algo_from_name(a.algo);
  if (!algo) return report_error("--algo: unknown hash algorithm '" + a.algo + "'");
  for (const auto& f : a.files) {
    auto content = read_whole_file(f);
    if (!content) return report_error(content.error().message());
    auto digest = hash_bytes(*algo, *content);
    if (!digest) return report_error(digest.error().message());
    auto v = a.ng ? encode_ima_digest_ng(*algo, *digest) : encode_ima_digest(*algo, *digest);
    if (!v) return report_error(f + ": " + v.error().message());
    std::cout << fmt::format("{}: 0x{}\n", f, to_hex(*v));
  }
  return kExitOk;
}

}  // namespace

void add_xattr_command(CLI::App& app, Action& action) {
  auto* x = app.add_subcommand("xattr", "Explain security.ima values, or compute the value for a file");
  x->require_subcommand(1);
  auto a = std::make_shared<XattrArgs>();

  auto* show = x->add_subcommand("show", "Decode the security.ima attribute of files");
  show->add_option("files", a->files, "files")->required();
  show->add_flag("--json", a->json, "print JSON");
  show->callback([&action, a] { action = [a] { return run_show(*a); }; });

  auto* decode = x->add_subcommand("decode", "Decode a security.ima value given in hex (getfattr -e hex)");
  decode->add_option("hex", a->hex, "the value, with or without 0x")->required();
  decode->add_flag("--json", a->json, "print JSON");
  decode->callback([&action, a] { action = [a] { return run_decode(*a); }; });

  auto* encode = x->add_subcommand("encode", "Print the security.ima value the kernel writes for a file's content");
  encode->add_option("files", a->files, "files")->required();
  encode->add_option("--algo", a->algo, "hash algorithm (default sha256)");
  encode->add_flag("--ng", a->ng, "type 0x04 even for sha1");
  encode->callback([&action, a] { action = [a] { return run_encode(*a); }; });
}

}  // namespace imashim::imactl
