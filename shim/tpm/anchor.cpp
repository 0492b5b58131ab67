#include "imashim/tpm/anchor.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <system_error>

#include "imashim/formats/measurement_log.hpp"
#include "imashim/formats/template.hpp"
#include "imashim/os/fd.hpp"

namespace imashim::tpm {
namespace fs = std::filesystem;
using formats::HashAlgo;

namespace {

struct EventName {
  AnchorEvent event;
  std::string_view name;
};
constexpr std::array<EventName, 3> kEvents{{
    {AnchorEvent::periodic, "periodic"}, {AnchorEvent::start, "start"}, {AnchorEvent::delete_, "delete"}}};

std::optional<AnchorEvent> event_from_name(std::string_view name) {
  for (const auto& e : kEvents)
    if (e.name == name) return e.event;
  return std::nullopt;
}

std::string pcr_text(unsigned pcr) { return "PCR " + std::to_string(pcr); }

// Missing file: empty log.
Result<Bytes> read_if_exists(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Bytes{};
  return formats::read_whole_file(path);
}

Bytes anchor_buf(const LogState& s) {
  std::string text = "entries=" + std::to_string(s.entries) + " event=" + std::string(anchor_event_name(s.event));
  return Bytes(text.begin(), text.end());
}

Result<void> parse_anchor_buf(std::string_view text, AnchorRecord& r) {
  auto sp = text.find(' ');
  std::string_view count = text.substr(0, sp);
  std::string_view event = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
  if (!count.starts_with("entries=") || !event.starts_with("event="))
    return fail("buf is not \"entries=<N> event=<E>\"");
  count.remove_prefix(8);
  event.remove_prefix(6);
  auto [p, ec] = std::from_chars(count.data(), count.data() + count.size(), r.entries);
  if (ec != std::errc() || p != count.data() + count.size()) return fail("bad entry count in buf");
  auto ev = event_from_name(event);
  if (!ev) return fail("unknown anchor event `" + std::string(event) + "`");
  r.event = *ev;
  return {};
}

Result<AnchorRecord> record_of(const formats::EntryView& e) {
  if (e.template_name != kAnchorTemplate)
    return fail("template `" + std::string(e.template_name) + "` is not the anchor template " + std::string(kAnchorTemplate));
  AnchorRecord r;
  r.index = e.index;
  r.container_id = std::string(e.path());
  IMASHIM_TRY(formats::FieldDigest d, e.file_digest());
  if (!d.algo) return fail("the virtual PCR has no hash algorithm");
  r.algo = *d.algo;
  r.virtual_pcr.assign(d.digest.begin(), d.digest.end());
  auto buf = e.field("buf");
  if (!buf) return fail("no buf field");
  IMASHIM_TRY_VOID(parse_anchor_buf(std::string_view(reinterpret_cast<const char*>(buf->data()), buf->size()), r));
  return r;
}

// The anchor log's files and where a rotated copy goes.
struct AnchorFiles {
  fs::path binary, ascii;
  explicit AnchorFiles(const fs::path& dir) : binary(dir / kAnchorBinaryLog), ascii(dir / kAnchorAsciiLog) {}
};

Result<void> rotate(const AnchorFiles& files) {
  for (int n = 1;; ++n) {
    fs::path to = files.binary.string() + "." + std::to_string(n);
    std::error_code ec;
    if (fs::exists(to, ec)) continue;
    fs::rename(files.binary, to, ec);
    if (ec) return fail("move the old anchor log aside: " + ec.message());
    fs::rename(files.ascii, files.ascii.string() + "." + std::to_string(n), ec);  // best effort
    return {};
  }
}

bool all_zero(ByteView v) {
  for (auto b : v)
    if (b) return false;
  return true;
}

// Replays the first `count` entries of `log` (all when count is nullopt) into `banks`.
Result<std::vector<formats::PcrBank>> replay_prefix(ByteView log, std::span<const HashAlgo> banks,
                                                    std::optional<std::size_t> count) {
  formats::ReplayOptions opts;
  opts.banks.assign(banks.begin(), banks.end());
  std::size_t end = log.size();
  if (count) {
    formats::LogReader reader(log);
    for (std::size_t i = 0; i < *count; ++i) {
      IMASHIM_TRY(auto e, reader.next());
    }
    end = reader.offset();
  }
  IMASHIM_TRY(formats::ReplayResult r, formats::replay_log(log.subspan(0, end), opts));
  return std::move(r.banks);
}

Result<std::size_t> count_entries(ByteView log, bool allow_torn_tail = false) {
  formats::LogReader reader(log);
  for (;;) {
    auto e = reader.next();
    if (!e) {
      if (allow_torn_tail && reader.truncated()) return reader.index();
      return Unexpected{std::move(e).error()};
    }
    if (!*e) return reader.index();
  }
}

struct TpmPcrs {
  std::vector<HashAlgo> banks;
  std::vector<Bytes> values;  // per bank
};

Result<TpmPcrs> read_tpm_pcrs(Tpm& tpm, unsigned pcr) {
  TpmPcrs out;
  IMASHIM_TRY(out.banks, tpm.banks(pcr));
  if (out.banks.empty()) return fail(pcr_text(pcr) + " is not allocated in any bank this TPM supports");
  for (HashAlgo b : out.banks) {
    IMASHIM_TRY(Bytes v, tpm.pcr_read(pcr, b));
    out.values.push_back(std::move(v));
  }
  return out;
}

bool banks_match(const TpmPcrs& tpm, const std::vector<formats::PcrBank>& replay, unsigned pcr) {
  for (std::size_t i = 0; i < tpm.banks.size(); ++i) {
    const formats::PcrBank* b = formats::find_bank(replay, tpm.banks[i]);
    if (!b || b->value(pcr) != tpm.values[i]) return false;
  }
  return true;
}

// Extends the TPM with the last entry of `log` (a crash came between writing it and extending).
Result<void> extend_last(Tpm& tpm, unsigned pcr, ByteView log, std::size_t entries, std::span<const HashAlgo> banks) {
  formats::LogReader reader(log);
  std::optional<formats::EntryView> last;
  for (std::size_t i = 0; i < entries; ++i) {
    IMASHIM_TRY(last, reader.next());
  }
  BankDigests digests;
  for (HashAlgo b : banks) {
    IMASHIM_TRY(Bytes d, formats::template_digest(b, *last));
    digests.emplace_back(b, std::move(d));
  }
  return tpm.pcr_extend(pcr, digests);
}

// Brings the anchor log and the TPM PCR into agreement before anything is
// appended: nothing to do, a new log after a PCR reset, or the extend a crash
// left undone. Anything else means another party extends the PCR.
Result<std::vector<HashAlgo>> sync_with_tpm(Tpm& tpm, const AnchorConfig& config, const AnchorFiles& files) {
  IMASHIM_TRY(TpmPcrs now, read_tpm_pcrs(tpm, config.pcr));
  IMASHIM_TRY(Bytes log, read_if_exists(files.binary));
  IMASHIM_TRY(auto replay, replay_prefix(log, now.banks, std::nullopt));
  if (banks_match(now, replay, config.pcr)) return now.banks;
  bool reset = true;
  for (const Bytes& v : now.values) reset = reset && all_zero(v);
  if (reset) {
    IMASHIM_TRY_VOID(rotate(files));
    return now.banks;
  }
  IMASHIM_TRY(std::size_t n, count_entries(log));
  if (n > 0) {
    IMASHIM_TRY(auto before_last, replay_prefix(log, now.banks, n - 1));
    if (banks_match(now, before_last, config.pcr)) {
      IMASHIM_TRY_VOID(extend_last(tpm, config.pcr, log, n, now.banks));
      return now.banks;
    }
  }
  const formats::PcrBank* b = formats::find_bank(replay, now.banks[0]);
  return fail(pcr_text(config.pcr) + " (" + std::string(formats::hash_algo_name(now.banks[0])) + ") holds " +
              to_hex(now.values[0]) + " but the anchor log " + files.binary.string() + " replays to " +
              (b ? to_hex(b->value(config.pcr)) : std::string("nothing")) +
              ": another program extends this PCR, or the anchor log was altered; choose another pcr");
}

Result<formats::LogEntry> anchor_entry(const AnchorConfig& config, const LogState& state) {
  if (state.container_id.empty()) return fail("anchor: empty container id");
  if (state.virtual_pcr.size() != formats::digest_size(config.log_bank))
    return fail("anchor: the virtual PCR of " + state.container_id + " is " + std::to_string(state.virtual_pcr.size()) +
                " bytes, not a " + std::string(formats::hash_algo_name(config.log_bank)) + " digest");
  IMASHIM_TRY(formats::TemplatePtr desc, formats::custom_template(kAnchorTemplate));
  formats::LogEntry e;
  e.pcr = config.pcr;
  e.desc = desc;
  e.fields = {formats::field_n_ng(state.container_id), formats::field_d_ng(config.log_bank, state.virtual_pcr),
              anchor_buf(state)};
  return e;
}

std::uintmax_t size_or_zero(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

// Appends, then extends; a failed extend takes the entry back out of the log.
Result<AnchorRecord> append_and_extend(Tpm& tpm, const AnchorConfig& config, const AnchorFiles& files,
                                       std::vector<HashAlgo> banks, const LogState& state) {
  IMASHIM_TRY(formats::LogEntry entry, anchor_entry(config, state));
  formats::MeasurementLogAppender::Options opts;
  opts.banks = std::move(banks);
  opts.fsync_each = true;
  IMASHIM_TRY(auto appender, formats::MeasurementLogAppender::open(files.binary, files.ascii, opts));
  std::uintmax_t bin_before = size_or_zero(files.binary), ascii_before = size_or_zero(files.ascii);
  IMASHIM_TRY(auto appended, appender.append(entry));
  auto extended = tpm.pcr_extend(config.pcr, appended.digests);
  if (!extended) {
    ::truncate(files.binary.c_str(), static_cast<off_t>(bin_before));
    ::truncate(files.ascii.c_str(), static_cast<off_t>(ascii_before));
    return std::move(extended).with_context("anchor " + state.container_id);
  }
  AnchorRecord r;
  r.index = appended.index;
  r.container_id = state.container_id;
  r.algo = config.log_bank;
  r.virtual_pcr = state.virtual_pcr;
  r.entries = state.entries;
  r.event = state.event;
  return r;
}

}  // namespace

Result<os::UniqueFd> lock_anchor_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail("create the anchor directory " + dir.string() + ": " + ec.message());
  fs::path lock = dir / "lock";
  os::UniqueFd fd(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return fail_errno("open " + lock.string());
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return fail_errno("lock " + lock.string());
  return fd;
}

AnchorConfig make_anchor_config(std::string tcti, unsigned pcr, OnFailure on_failure, const fs::path& log_root) {
  AnchorConfig c;
  c.tpm.tcti = std::move(tcti);
  c.pcr = pcr;
  c.on_failure = on_failure;
  c.anchor_dir = log_root / std::string(kAnchorDirName);
  return c;
}

std::string_view anchor_event_name(AnchorEvent event) {
  for (const auto& e : kEvents)
    if (e.event == event) return e.name;
  return "?";
}

Result<LogState> container_log_state(const std::string& container_id, ByteView binary_log, HashAlgo bank) {
  const HashAlgo banks[] = {bank};
  // A writer may be in the middle of its last entry: anchor the complete ones.
  IMASHIM_TRY(std::size_t n, count_entries(binary_log, /*allow_torn_tail=*/true));
  IMASHIM_TRY(auto replay, replay_prefix(binary_log, banks, n));
  LogState s;
  s.container_id = container_id;
  s.virtual_pcr = replay[0].value(kContainerLogPcr);
  s.entries = n;
  return s;
}

Result<AnchorRecord> anchor_with(Tpm& tpm, const AnchorConfig& config, const LogState& state) {
  AnchorFiles files(config.anchor_dir);
  IMASHIM_TRY(os::UniqueFd lock, lock_anchor_dir(config.anchor_dir));
  IMASHIM_TRY(std::vector<HashAlgo> banks, sync_with_tpm(tpm, config, files));
  return append_and_extend(tpm, config, files, std::move(banks), state);
}

Result<AnchorRecord> anchor(const AnchorConfig& config, const LogState& state) {
  IMASHIM_TRY(std::unique_ptr<Tpm> tpm, open_tpm(config.tpm));
  return anchor_with(*tpm, config, state);
}

Result<void> mark_unanchored(const fs::path& log_dir, std::string_view reason) {
  std::string text(reason);
  text += "\n";
  return formats::write_file_atomic(log_dir / kUnanchoredMarker, text);
}

// With prefer, a failure becomes the `unanchored` marker; a success removes it.
Result<std::optional<AnchorRecord>> apply_on_failure(const AnchorConfig& config, const fs::path& log_dir,
                                                     Result<AnchorRecord> r, std::string_view what) {
  std::error_code ec;
  if (r) {
    fs::remove(log_dir / kUnanchoredMarker, ec);
    return std::optional<AnchorRecord>(std::move(*r));
  }
  if (config.on_failure == OnFailure::require) return std::move(r).with_context(what);
  fs::create_directories(log_dir, ec);
  IMASHIM_TRY_VOID(mark_unanchored(log_dir, r.error().message()));
  return std::optional<AnchorRecord>();
}

Result<std::optional<AnchorRecord>> anchor_container_log(const AnchorConfig& config, const std::string& container_id,
                                                         const fs::path& log_dir, AnchorEvent event) {
  auto attempt = [&]() -> Result<AnchorRecord> {
    IMASHIM_TRY(Bytes log, read_if_exists(log_dir / kContainerBinaryLog));
    auto state = container_log_state(container_id, log, config.log_bank);
    if (!state) return std::move(state).with_context((log_dir / kContainerBinaryLog).string());
    state->event = event;
    return anchor(config, *state);
  };
  return apply_on_failure(config, log_dir, attempt(), "TPM anchor of " + container_id);
}

Result<void> anchor_at_start(const AnchorConfig& config, const std::string& container_id, const fs::path& log_dir) {
  LogState start{container_id, Bytes(formats::digest_size(config.log_bank), 0), 0, AnchorEvent::start};
  IMASHIM_TRY(auto r, apply_on_failure(config, log_dir, anchor(config, start),
                                       "TPM anchoring is required (on_failure=require) for " + container_id));
  return {};
}

AnchorSchedule::AnchorSchedule(std::uint64_t every_events, std::uint64_t every_seconds, Clock::time_point now)
    : every_events_(every_events), every_seconds_(every_seconds), last_(now) {}

bool AnchorSchedule::due(Clock::time_point now) const {
  if (pending_ == 0) return false;
  if (every_events_ && pending_ >= every_events_) return true;
  return every_seconds_ && now - last_ >= std::chrono::seconds(every_seconds_);
}

void AnchorSchedule::anchored(Clock::time_point now) {
  pending_ = 0;
  last_ = now;
}

Result<std::vector<AnchorRecord>> read_anchor_log(ByteView binary_log) {
  std::vector<AnchorRecord> out;
  formats::LogReader reader(binary_log);
  for (;;) {
    auto next = reader.next();
    if (!next) return std::move(next).with_context("anchor log");
    auto& e = *next;
    if (!e) return out;
    auto r = record_of(*e);
    if (!r) return std::move(r).with_context("anchor log entry " + std::to_string(e->index));
    out.push_back(std::move(*r));
  }
}

}  // namespace imashim::tpm
