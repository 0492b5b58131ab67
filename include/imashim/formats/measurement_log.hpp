// IMA measurement logs in the kernel's formats (security/integrity/ima/ima_fs.c).
//
// binary_runtime_measurements, one entry after another, integers in the log's byte
// order (native, or little-endian with `ima_canonical_fmt`):
//   u32 pcr | 20-byte sha1 template digest | u32 name_len | name (no NUL)
//   | u32 template_data_len | template data                    (every template but `ima`)
//   | 20-byte d | u32 n_len | n without NUL                   (`ima`: no data length)
// template data = for each field: u32 len | data (the kernel's ima_field_data).
// The template digest of a bank is H(template data) (for `ima`: H(d || n padded to 256)).
// Violation entries log a zero template digest; PCRs are extended with 0xff.. instead.
//
// ascii_runtime_measurements: "%2d <sha1 hex> <template name>" then " <field>" per field.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/formats/hash.hpp"
#include "imashim/formats/pcr.hpp"
#include "imashim/formats/template.hpp"
#include "imashim/os/fd.hpp"
#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::formats {

inline constexpr std::size_t kTemplateDigestSize = 20;  // TPM_DIGEST_SIZE: the sha1 in the log

enum class ByteOrder : std::uint8_t { little, big };
// The host's order (what the kernel writes without ima_canonical_fmt).
ByteOrder native_byte_order();
// The canonical format is little-endian.
inline constexpr ByteOrder kCanonical = ByteOrder::little;

struct LogReadOptions {
  ByteOrder order = native_byte_order();
  TemplateSet templates = TemplateSet::mainline;
  // Accept the 2017 namespace draft's ima/ima-ng/ima-sig layouts (nid|fi|dev|...) when the
  // data has that shape, even with templates = mainline.
  bool detect_namespace_draft = true;
};

// One entry of a binary log, pointing into the log's buffer (no copies).
struct EntryView {
  std::size_t index = 0;   // 0-based entry number
  std::size_t offset = 0;  // byte offset of the entry in the log
  std::size_t size = 0;    // bytes of the whole entry
  std::uint32_t pcr = 0;
  ByteView template_digest;        // 20 bytes as logged (zero: violation)
  std::string_view template_name;  // a builtin name, or the format of a custom template
  TemplatePtr desc;
  ByteOrder order = native_byte_order();  // of the lengths in the log (and in the hashed data)
  ByteView template_data;          // what follows the name and data length (empty for `ima`
                                   // and for views of owned entries)
  std::array<ByteView, kMaxTemplateFields> fields{};  // per desc->fields; `ima` n has no NUL here

  bool is_violation() const;
  // The data of field `id`, nullopt if the template has no such field.
  std::optional<ByteView> field(std::string_view id) const;
  // The file name (n-ng or n), "" if none.
  std::string_view path() const;
  // The file digest (d-ngv2, d-ng or d, first present); error if none or malformed.
  Result<FieldDigest> file_digest() const;
};

// Streams entries out of a binary log held in memory.
class LogReader {
 public:
  explicit LogReader(ByteView log, LogReadOptions opts = {});
  // The next entry, nullopt at the end. Every length is checked against the buffer end;
  // an error names the entry index, its byte offset and the offset of the bad field.
  Result<std::optional<EntryView>> next();
  std::size_t offset() const { return off_; }
  std::size_t index() const { return index_; }
  // After an error: whether it was the log ending inside an entry (a torn tail).
  bool truncated() const { return truncated_; }

 private:
  Result<TemplatePtr> template_for(std::string_view name, ByteView rest);
  Unexpected error_at(std::size_t at, std::string_view what, bool truncated);
  ByteView log_;
  LogReadOptions opts_;
  std::size_t off_ = 0;
  std::size_t index_ = 0;
  bool truncated_ = false;
  std::vector<std::pair<std::string, TemplatePtr>> cache_;
};

// An owned entry, for writing. `fields` are in desc->fields order and hold the kernel's
// field data (names with their NUL; see template.hpp's field_* builders).
struct LogEntry {
  std::uint32_t pcr = kImaPcr;
  TemplatePtr desc;
  std::vector<Bytes> fields;
  bool violation = false;
};

// What a measurement says; build_entry() lays it out for any template.
struct Measurement {
  std::string path;                  // n, n-ng (spaces become '_')
  HashAlgo algo = HashAlgo::sha256;  // d-ng, d-ngv2 (d: the digest must be 20 bytes)
  Bytes digest;                      // the file digest (ignored for a violation)
  DigestType digest_type = DigestType::ima;
  Bytes signature;                   // sig: the security.ima value if it is a signature
  Bytes buf;                         // buf (ima-buf)
  std::optional<std::uint64_t> mnt_ns;   // nid
  std::optional<std::uint64_t> inode;    // fi
  std::string dev;                       // dev (empty: field left empty)
  bool violation = false;
  std::uint32_t pcr = kImaPcr;
};
Result<LogEntry> build_entry(const TemplatePtr& desc, const Measurement& m);
// The boot_aggregate entry: `digest` is boot_aggregate() of the TPM's PCRs, or zeros
// of `algo`'s size on a machine without a TPM (as the kernel logs it).
Result<LogEntry> boot_aggregate_entry(const TemplatePtr& desc, HashAlgo algo, ByteView digest);
inline constexpr std::string_view kBootAggregateName = "boot_aggregate";

// A view of an owned entry (valid while `e` and `sha1` live).
Result<EntryView> view_of(const LogEntry& e, ByteView sha1, ByteOrder order = native_byte_order());
// Copies a view into an owned entry.
Result<LogEntry> to_entry(const EntryView& v);

// Template digest of one bank (all zero for a violation is NOT applied here).
Result<Bytes> template_digest(HashAlgo algo, const EntryView& e);
// Reusable hasher for many entries.
class TemplateHasher {
 public:
  static Result<TemplateHasher> create(HashAlgo algo);
  HashAlgo algo() const { return h_.algo(); }
  Bytes digest(const EntryView& e);

 private:
  explicit TemplateHasher(Hasher h) : h_(std::move(h)) {}
  Hasher h_;
};

// The bytes of one binary entry / one ascii line (with its '\n').
Bytes encode_binary_entry(const EntryView& e, ByteOrder order = native_byte_order());
void append_binary_entry(Bytes& out, const EntryView& e, ByteOrder order = native_byte_order());
std::string format_ascii_entry(const EntryView& e);
void append_ascii_entry(std::string& out, const EntryView& e);

// A whole binary log → the kernel's ascii text.
Result<std::string> binary_to_ascii(ByteView log, const LogReadOptions& opts = {});
// A whole binary log → the same log in another byte order.
Result<Bytes> convert_byte_order(ByteView log, const LogReadOptions& from, ByteOrder to);

// One file measurement from a log, owned: what drift and doctor compare (path → digest).
struct FileMeasurement {
  std::size_t index = 0;
  std::uint32_t pcr = 0;
  std::string template_name;
  std::string path;
  std::optional<HashAlgo> algo;  // absent for the `ima` template's `d` (sha1 or md5 by size)
  Bytes digest;                  // zeros for a violation
  bool violation = false;
  std::string nid;               // "mnt-ns=N" under the 2017 namespace draft, else ""
};
// Every entry that has a file digest field (entries of templates without one, e.g. a
// custom "n-ng|buf", are skipped); a malformed digest field is an error naming the entry.
Result<std::vector<FileMeasurement>> list_file_measurements(ByteView log, const LogReadOptions& opts = {});

// ---- replay and verification ----
struct EntryProblem {
  std::size_t index = 0;
  std::size_t offset = 0;
  std::string path;
  std::string what;
};

struct ReplayOptions {
  ReplayOptions();  // banks sha1 + sha256
  std::vector<HashAlgo> banks;
  LogReadOptions read;
};

struct PcrCheck {
  HashAlgo bank;
  std::uint32_t pcr;
  Bytes expected;
  Bytes computed;
  bool match = false;
  // When it does not match: the number of leading entries whose replay gives `expected`
  // (the PCR was read before the rest was logged), if any prefix does.
  std::optional<std::size_t> matching_prefix;
};

struct ReplayResult {
  std::size_t entries = 0;
  std::size_t violations = 0;
  std::vector<PcrBank> banks;
  // The first entry whose logged sha1 template digest differs from its data's.
  std::optional<EntryProblem> first_bad_entry;
  std::vector<PcrCheck> checks;  // filled by verify_log
  // First entry that makes the log disagree with the expected PCRs (verify_log).
  std::optional<EntryProblem> first_divergent;
  bool ok() const;
};

// Replays every entry into the banks. A corrupt log is an error (index + offset).
Result<ReplayResult> replay_log(ByteView log, const ReplayOptions& opts = {});
// Replays and compares with `expected` (banks not replayed are added to the replay).
Result<ReplayResult> verify_log(ByteView log, const PcrValues& expected, ReplayOptions opts = {});

// ---- files ----
// Reads a whole file (also securityfs files whose size reads as 0).
Result<Bytes> read_whole_file(const std::filesystem::path& path);
inline constexpr std::string_view kKernelBinaryLog = "/sys/kernel/security/ima/binary_runtime_measurements";
inline constexpr std::string_view kKernelAsciiLog = "/sys/kernel/security/ima/ascii_runtime_measurements";

// Appends entries to a binary + ascii log pair and keeps virtual PCR banks, for a
// long-running writer (the fanotify monitor, the TPM anchor log).
//
// Each entry goes out as one write() per file, binary first. open() recovers from a
// crash between or inside writes: a torn binary tail (an incomplete last entry) is cut
// off, the ascii file is rewritten (temp file + rename) when it does not match the
// binary log, and the banks are replayed from the binary log. One appender per file pair.
class MeasurementLogAppender {
 public:
  struct Options {
    Options();  // banks sha1 + sha256
    std::vector<HashAlgo> banks;
    ByteOrder order = native_byte_order();
    LogReadOptions read;  // for recovery (its order is taken from `order`)
    bool fsync_each = false;  // fdatasync both files after every entry
  };
  struct Appended {
    std::size_t index = 0;
    std::uint64_t offset = 0;  // in the binary file
    Bytes sha1;                // template digest as logged
    std::vector<std::pair<HashAlgo, Bytes>> digests;  // per bank, as extended
  };

  static Result<MeasurementLogAppender> open(const std::filesystem::path& binary_path,
                                             const std::filesystem::path& ascii_path, Options opts);
  static Result<MeasurementLogAppender> open(const std::filesystem::path& binary_path,
                                             const std::filesystem::path& ascii_path);

  Result<Appended> append(const LogEntry& e);
  Result<Appended> append(const TemplatePtr& desc, const Measurement& m);
  const std::vector<PcrBank>& banks() const { return banks_; }
  std::size_t entries() const { return entries_; }
  // Bytes cut off a torn tail by open() (0 when the log was clean).
  std::size_t recovered_bytes() const { return recovered_; }
  // Writes one bank in evmctl's --pcrs format, atomically (temp file + rename).
  Result<void> write_pcrs_evmctl(const std::filesystem::path& path, HashAlgo bank) const;
  Result<void> sync();
  // sync() in its two halves, for callers that flush them side by side.
  Result<void> sync_binary();
  Result<void> sync_ascii();

 private:
  MeasurementLogAppender() = default;
  os::UniqueFd bin_, ascii_;
  std::vector<PcrBank> banks_;
  std::vector<TemplateHasher> hashers_;
  std::optional<TemplateHasher> sha1_;
  Options opts_;
  std::uint64_t bin_size_ = 0, ascii_size_ = 0;
  std::size_t entries_ = 0;
  std::size_t recovered_ = 0;
};

// Writes `data` to `path` atomically: temp file in the same directory, fsync, rename.
Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view data);

}  // namespace imashim::formats
