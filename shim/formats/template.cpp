#include "imashim/formats/template.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace imashim::formats {
namespace {

using F = FieldFormat;
constexpr std::array<TemplateField, 19> kFields{{
    {"d", F::digest, "file digest, sha1/md5 only (ima template)"},
    {"n", F::string, "file name, at most 255 characters"},
    {"d-ng", F::digest_with_algo, "file digest with its algorithm"},
    {"d-ngv2", F::digest_with_type_and_algo, "file digest with digest type (ima|verity) and algorithm"},
    {"n-ng", F::string, "file name, any length"},
    {"sig", F::hex, "security.ima signature"},
    {"buf", F::hex, "buffer measured (kexec cmdline, keys, critical data)"},
    {"d-modsig", F::digest_with_algo, "digest covered by the appended signature"},
    {"modsig", F::hex, "appended (module-style) signature"},
    {"evmsig", F::hex, "EVM portable signature"},
    {"iuid", F::uint, "inode uid"},
    {"igid", F::uint, "inode gid"},
    {"imode", F::uint, "inode mode"},
    {"xattrnames", F::string, "names of the EVM-protected xattrs"},
    {"xattrlengths", F::hex, "lengths of the EVM-protected xattrs"},
    {"xattrvalues", F::hex, "values of the EVM-protected xattrs"},
    {"nid", F::string, "mount namespace id 'mnt-ns=N' (2017 namespace draft)"},
    {"fi", F::string, "file inode 'inode=N' (2017 namespace draft)"},
    {"dev", F::string, "device 'dev=S' (2017 namespace draft)"},
}};

struct Builtin {
  std::string_view name;
  std::string_view fmt;
  std::string_view draft_fmt;  // the 2017 namespace draft's format, when it changed it
};
constexpr std::array<Builtin, 8> kBuiltins{{
    {"ima", "d|n", "nid|fi|dev|d|n"},
    {"ima-ng", "d-ng|n-ng", "nid|fi|dev|d-ng|n-ng"},
    {"ima-sig", "d-ng|n-ng|sig", "nid|fi|dev|d-ng|n-ng|sig"},
    {"ima-ngv2", "d-ngv2|n-ng", ""},
    {"ima-sigv2", "d-ngv2|n-ng|sig", ""},
    {"ima-buf", "d-ng|n-ng|buf", ""},
    {"ima-modsig", "d-ng|n-ng|sig|d-modsig|modsig", ""},
    {"evm-sig", "d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode", ""},
}};

constexpr std::array<std::string_view, 2> kDigestTypes{"ima", "verity"};

Result<std::vector<const TemplateField*>> parse_fmt(std::string_view fmt) {
  std::vector<const TemplateField*> fields;
  if (fmt.empty()) return fail("template format is empty");
  std::size_t pos = 0;
  for (;;) {
    std::size_t bar = fmt.find('|', pos);
    std::string_view id = fmt.substr(pos, bar == std::string_view::npos ? std::string_view::npos : bar - pos);
    if (id.empty()) return fail(fmt::format("template format '{}': empty field at character {}", fmt, pos));
    const TemplateField* f = find_template_field(id);
    if (!f) return fail(fmt::format("template format '{}': unknown field '{}'", fmt, id));
    if (std::find(fields.begin(), fields.end(), f) != fields.end())
      return fail(fmt::format("template format '{}': field '{}' appears twice", fmt, id));
    fields.push_back(f);
    if (fields.size() > kMaxTemplateFields)
      return fail(fmt::format("template format '{}': more than {} fields", fmt, kMaxTemplateFields));
    if (bar == std::string_view::npos) break;
    pos = bar + 1;
  }
  return fields;
}

Result<TemplatePtr> make_template(std::string_view name, std::string_view fmt) {
  IMASHIM_TRY(auto fields, parse_fmt(fmt));
  auto d = std::make_shared<TemplateDesc>();
  d->name = std::string(name);
  d->fmt = std::string(fmt);
  d->fields = std::move(fields);
  return TemplatePtr(std::move(d));
}

std::string printable_name(std::string_view name) {
  std::string s(name.substr(0, 64));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return s;
}

}  // namespace

std::span<const TemplateField> template_fields() { return kFields; }

const TemplateField* find_template_field(std::string_view id) {
  for (const auto& f : kFields)
    if (f.id == id) return &f;
  return nullptr;
}

std::optional<std::size_t> TemplateDesc::field_index(std::string_view id) const {
  for (std::size_t i = 0; i < fields.size(); ++i)
    if (fields[i]->id == id) return i;
  return std::nullopt;
}

Result<TemplatePtr> builtin_template(std::string_view name, TemplateSet set) {
  for (const auto& b : kBuiltins) {
    if (b.name != name) continue;
    bool draft = set == TemplateSet::namespace_draft && !b.draft_fmt.empty();
    return make_template(b.name, draft ? b.draft_fmt : b.fmt);
  }
  return fail(fmt::format("unknown template '{}'", printable_name(name)));
}

Result<TemplatePtr> custom_template(std::string_view fmt) { return make_template("", fmt); }

Result<TemplatePtr> resolve_template(std::string_view name_or_fmt, TemplateSet set) {
  for (const auto& b : kBuiltins)
    if (b.name == name_or_fmt) return builtin_template(name_or_fmt, set);
  auto t = custom_template(name_or_fmt);
  if (!t) return fail(fmt::format("template '{}' is neither a builtin name nor a valid format: {}",
                                  printable_name(name_or_fmt), t.error().message()));
  return t;
}

std::string_view digest_type_name(DigestType type) { return kDigestTypes[static_cast<std::size_t>(type)]; }

// ---- building ----

Bytes field_d(ByteView digest) { return Bytes(digest.begin(), digest.end()); }

static Bytes digest_with_prefix(std::string_view prefix, ByteView digest) {
  Bytes out(prefix.begin(), prefix.end());
  out.push_back(0);
  out.insert(out.end(), digest.begin(), digest.end());
  return out;
}

Bytes field_d_ng(HashAlgo algo, ByteView digest) {
  return digest_with_prefix(std::string(hash_algo_name(algo)) + ":", digest);
}

Bytes field_d_ngv2(DigestType type, HashAlgo algo, ByteView digest) {
  return digest_with_prefix(fmt::format("{}:{}:", digest_type_name(type), hash_algo_name(algo)), digest);
}

Bytes field_string(std::string_view s) {
  Bytes out(s.begin(), s.end());
  std::replace(out.begin(), out.end(), std::uint8_t(' '), std::uint8_t('_'));
  out.push_back(0);
  return out;
}

Bytes field_n_ng(std::string_view name) { return field_string(name); }

Bytes field_n(std::string_view name) {
  if (name.size() > kEventNameLenMax) {
    // The kernel falls back to the file's own name (its dentry), else truncates.
    std::size_t slash = name.rfind('/');
    std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
    name = base.size() <= kEventNameLenMax ? base : name.substr(0, kEventNameLenMax);
  }
  return field_string(name);
}

Bytes field_nid(std::uint64_t inum) { return field_string(fmt::format("mnt-ns={}", inum)); }
Bytes field_fi(std::uint64_t inode) { return field_string(fmt::format("inode={}", inode)); }
Bytes field_dev(std::string_view s_id) { return field_string(fmt::format("dev={}", s_id)); }

// ---- reading ----

bool FieldDigest::is_zero() const {
  return std::all_of(digest.begin(), digest.end(), [](std::uint8_t b) { return b == 0; });
}

static Result<FieldDigest> parse_prefixed_digest(const TemplateField& field, ByteView data, bool with_type) {
  const void* nul = std::memchr(data.data(), 0, data.size());
  if (!nul) return fail(fmt::format("field {}: no NUL after the algorithm prefix", field.id));
  std::size_t nul_at = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - data.data());
  std::string_view prefix(reinterpret_cast<const char*>(data.data()), nul_at);
  if (prefix.empty() || prefix.back() != ':')
    return fail(fmt::format("field {}: byte {}: prefix '{}' does not end with ':'", field.id, nul_at,
                            printable_name(prefix)));
  prefix.remove_suffix(1);
  FieldDigest d;
  if (with_type) {
    std::size_t colon = prefix.find(':');
    std::string_view type = prefix.substr(0, colon);
    auto it = std::find(kDigestTypes.begin(), kDigestTypes.end(), type);
    if (colon == std::string_view::npos || it == kDigestTypes.end())
      return fail(fmt::format("field {}: byte 0: unknown digest type '{}'", field.id, printable_name(type)));
    d.type = static_cast<DigestType>(it - kDigestTypes.begin());
    prefix.remove_prefix(colon + 1);
  }
  if (!prefix.empty()) {  // very old kernels wrote ":" alone for sha1/md5
    auto algo = hash_algo_from_name(prefix);
    if (!algo || hash_algo_name(*algo) != prefix)
      return fail(fmt::format("field {}: byte 0: unknown hash algorithm '{}'", field.id, printable_name(prefix)));
    d.algo = *algo;
  }
  d.digest = data.subspan(nul_at + 1);
  if (d.algo && d.digest.size() != digest_size(*d.algo))
    return fail(fmt::format("field {}: byte {}: {} digest must be {} bytes, field has {}", field.id, nul_at + 1,
                            hash_algo_name(*d.algo), digest_size(*d.algo), d.digest.size()));
  return d;
}

Result<FieldDigest> parse_field_digest(const TemplateField& field, ByteView data) {
  switch (field.format) {
    case FieldFormat::digest:
      return FieldDigest{std::nullopt, std::nullopt, data};
    case FieldFormat::digest_with_algo:
      return parse_prefixed_digest(field, data, false);
    case FieldFormat::digest_with_type_and_algo:
      return parse_prefixed_digest(field, data, true);
    default:
      return fail(fmt::format("field {} is not a digest field", field.id));
  }
}

std::string_view field_text(ByteView data) {
  const char* p = reinterpret_cast<const char*>(data.data());
  const void* nul = std::memchr(p, 0, data.size());
  return std::string_view(p, nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - p) : data.size());
}

static void append_hex(std::string& out, ByteView data) {
  static constexpr char digits[] = "0123456789abcdef";
  for (std::uint8_t b : data) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xf]);
  }
}

static std::uint64_t le_uint(ByteView data) {
  std::uint64_t v = 0;
  for (std::size_t i = data.size(); i-- > 0;) v = v << 8 | data[i];
  return v;
}

void append_field_ascii(std::string& out, const TemplateField& field, ByteView data) {
  switch (field.format) {
    case FieldFormat::digest_with_algo:
    case FieldFormat::digest_with_type_and_algo: {
      // The kernel prints the text up to the NUL when the data does not start with the
      // last ':' of that text, then the bytes after ':' NUL in hex.
      std::string_view text = field_text(data);
      std::size_t colon = text.rfind(':');
      if (colon == std::string_view::npos) break;  // the kernel would read past the field
      if (colon != 0) out.append(text);
      std::size_t skip = colon + 2;
      if (skip < data.size()) append_hex(out, data.subspan(skip));
      break;
    }
    case FieldFormat::digest:
    case FieldFormat::hex:
      append_hex(out, data);
      break;
    case FieldFormat::string:
      out.append(field_text(data));
      break;
    case FieldFormat::uint:
      if (data.size() == 1 || data.size() == 2 || data.size() == 4 || data.size() == 8)
        out.append(std::to_string(le_uint(data)));
      break;
  }
}

}  // namespace imashim::formats
