// IMA template fields and templates (security/integrity/ima/ima_template.c and
// ima_template_lib.c). A template is a format string of field ids ("d-ng|n-ng|sig");
// each field's data is stored as the kernel's `struct ima_field_data` bytes:
//   d        raw digest (sha1/md5 size, 20 bytes in practice)
//   d-ng     "<algo>:" NUL digest                e.g. "sha256:\0" + 32 bytes
//   d-ngv2   "<type>:<algo>:" NUL digest         type "ima" or "verity"
//   d-modsig like d-ng (digest the appended signature covers); empty when none
//   n, n-ng  NUL-terminated name, spaces replaced by '_'; `n` at most 255 chars
//   sig      security.ima value when it is a signature (0x03/0x06); else empty
//   modsig   raw appended signature; buf: raw buffer (ima-buf)
//   nid      "mnt-ns=<inum>" NUL   } 2017 namespace draft (CONFIG_IMA_PER_NAMESPACE):
//   fi       "inode=<ino>" NUL     } added in front of the ima, ima-ng and ima-sig
//   dev      "dev=<s_id>" NUL      } templates ("nid|fi|dev|d-ng|n-ng")
//   evmsig, xattrlengths, xattrvalues (hex), xattrnames (string), iuid, igid, imode (uint)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/formats/hash.hpp"
#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::formats {

// How a field's data is printed in ascii_runtime_measurements (`enum data_formats`).
enum class FieldFormat : std::uint8_t {
  digest,                     // hex
  digest_with_algo,           // "sha256:" + hex
  digest_with_type_and_algo,  // "ima:sha256:" + hex
  string,                     // up to the first NUL
  hex,                        // hex
  uint,                       // decimal (1, 2, 4 or 8 bytes)
};

// One entry of the field registry.
struct TemplateField {
  std::string_view id;
  FieldFormat format;
  std::string_view description;
};

inline constexpr std::size_t kMaxTemplateFields = 15;  // IMA_TEMPLATE_NUM_FIELDS_MAX
inline constexpr std::size_t kEventNameLenMax = 255;   // IMA_EVENT_NAME_LEN_MAX

// Every field the kernel (and the 2017 namespace draft) defines.
std::span<const TemplateField> template_fields();
const TemplateField* find_template_field(std::string_view id);

// A template: its name ("" for a custom format) and its fields in order.
struct TemplateDesc {
  std::string name;
  std::string fmt;
  std::vector<const TemplateField*> fields;

  // The legacy `ima` template: no template-data length in the binary log, `d` with no
  // field length, `n` without its NUL, and `n` padded to 256 bytes when hashed.
  bool is_ima() const { return name == "ima"; }
  // What the logs print: the name, or the format string of a custom template.
  std::string_view display_name() const { return name.empty() ? std::string_view(fmt) : name; }
  // Index of field `id`, or nullopt.
  std::optional<std::size_t> field_index(std::string_view id) const;
};
using TemplatePtr = std::shared_ptr<const TemplateDesc>;

// Which builtin set names resolve to.
enum class TemplateSet : std::uint8_t {
  mainline,         // ima = d|n, ima-ng = d-ng|n-ng, ...
  namespace_draft,  // ima = nid|fi|dev|d|n, ima-ng = nid|fi|dev|d-ng|n-ng, ima-sig = nid|fi|dev|d-ng|n-ng|sig
};

// Names: ima, ima-ng, ima-sig, ima-ngv2, ima-sigv2, ima-buf, ima-modsig, evm-sig.
Result<TemplatePtr> builtin_template(std::string_view name, TemplateSet set = TemplateSet::mainline);
// A custom format string ("d-ng|n-ng|sig"): unknown or repeated fields, empty
// components and more than 15 fields are errors.
Result<TemplatePtr> custom_template(std::string_view fmt);
// A builtin name, else a format string (the binary log names custom templates by format).
Result<TemplatePtr> resolve_template(std::string_view name_or_fmt, TemplateSet set = TemplateSet::mainline);

// ---- Field data: building (what the kernel's field_init functions produce) ----
enum class DigestType : std::uint8_t { ima, verity };

Bytes field_d(ByteView digest);                                              // d
Bytes field_d_ng(HashAlgo algo, ByteView digest);                            // d-ng, d-modsig
Bytes field_d_ngv2(DigestType type, HashAlgo algo, ByteView digest);         // d-ngv2
Bytes field_n_ng(std::string_view name);                                     // n-ng
Bytes field_n(std::string_view name);                                        // n (truncated to 255)
Bytes field_string(std::string_view s);                                      // nid, fi, dev, xattrnames
Bytes field_nid(std::uint64_t mnt_ns_inum);                                  // "mnt-ns=N"
Bytes field_fi(std::uint64_t inode);                                         // "inode=N"
Bytes field_dev(std::string_view s_id);                                      // "dev=S"

// ---- Field data: reading ----
// A parsed digest field (d, d-ng, d-ngv2, d-modsig).
struct FieldDigest {
  std::optional<DigestType> type;   // d-ngv2 only
  std::optional<HashAlgo> algo;     // absent for `d` (sha1 or md5 by size)
  ByteView digest;
  bool is_zero() const;
};
// Strict: the prefix must be "<algo>:" NUL (or "<type>:<algo>:" NUL) with a known algorithm
// and a digest of that algorithm's size; the error says which byte is wrong.
Result<FieldDigest> parse_field_digest(const TemplateField& field, ByteView data);
// The text of a string field, up to its first NUL (what the ascii log prints).
std::string_view field_text(ByteView data);
// The ascii rendering of one field, exactly as ima_show_template_data_ascii prints it.
void append_field_ascii(std::string& out, const TemplateField& field, ByteView data);

std::string_view digest_type_name(DigestType type);

}  // namespace imashim::formats
