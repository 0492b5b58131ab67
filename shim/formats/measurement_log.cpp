#include "imashim/formats/measurement_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace imashim::formats {
namespace {

constexpr std::size_t kMaxNameLen = 255;  // MAX_TEMPLATE_NAME_LEN (15 fields * 17)
constexpr std::size_t kImaNamePadded = kEventNameLenMax + 1;

std::uint32_t load32(const std::uint8_t* p, ByteOrder o) {
  return o == ByteOrder::little ? get_le32(p) : get_be32(p);
}
void store32(Bytes& out, std::uint32_t v, ByteOrder o) {
  if (o == ByteOrder::little)
    put_le32(out, v);
  else
    put_be32(out, v);
}

bool all_zero(ByteView v) {
  return std::all_of(v.begin(), v.end(), [](std::uint8_t b) { return b == 0; });
}

std::string printable(std::string_view s) {
  std::string out(s.substr(0, 80));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return out;
}

}  // namespace

ByteOrder native_byte_order() {
  return std::endian::native == std::endian::little ? ByteOrder::little : ByteOrder::big;
}

// ---------------------------------------------------------------- EntryView

bool EntryView::is_violation() const { return all_zero(template_digest); }

std::optional<ByteView> EntryView::field(std::string_view id) const {
  if (!desc) return std::nullopt;
  auto i = desc->field_index(id);
  if (!i) return std::nullopt;
  return fields[*i];
}

std::string_view EntryView::path() const {
  if (auto f = field("n-ng")) return field_text(*f);
  if (auto f = field("n")) return field_text(*f);
  return {};
}

Result<FieldDigest> EntryView::file_digest() const {
  for (std::string_view id : {"d-ngv2", "d-ng", "d"}) {
    auto i = desc ? desc->field_index(id) : std::nullopt;
    if (i) return parse_field_digest(*desc->fields[*i], fields[*i]);
  }
  return fail(fmt::format("template '{}' has no file digest field", template_name));
}

// ---------------------------------------------------------------- reader

LogReader::LogReader(ByteView log, LogReadOptions opts) : log_(log), opts_(opts) {}

Unexpected LogReader::error_at(std::size_t at, std::string_view what, bool truncated) {
  truncated_ = truncated;
  return fail(fmt::format("entry {} at byte {}: {} (byte {})", index_, off_, what, at));
}

Result<TemplatePtr> LogReader::template_for(std::string_view name, ByteView rest) {
  TemplateSet set = opts_.templates;
  if (set == TemplateSet::mainline && opts_.detect_namespace_draft) {
    // The draft puts nid ("mnt-ns=N") first: its u32 length follows the data length
    // (or, for `ima`, which has no data length, comes first).
    std::size_t at = (name == "ima" ? 0 : 4) + 4;
    constexpr std::string_view kNid = "mnt-ns=";
    if (rest.size() >= at + kNid.size() && std::memcmp(rest.data() + at, kNid.data(), kNid.size()) == 0 &&
        (name == "ima" || name == "ima-ng" || name == "ima-sig"))
      set = TemplateSet::namespace_draft;
  }
  std::string key(name);
  if (set == TemplateSet::namespace_draft) key.push_back('\x01');
  for (const auto& [k, t] : cache_)
    if (k == key) return t;
  IMASHIM_TRY(TemplatePtr t, resolve_template(name, set));
  cache_.emplace_back(std::move(key), t);
  return t;
}

Result<std::optional<EntryView>> LogReader::next() {
  if (off_ == log_.size()) return std::optional<EntryView>();
  const std::size_t end = log_.size();
  std::size_t p = off_;
  auto need = [&](std::size_t n, std::string_view what) -> Result<void> {
    if (end - p < n)
      return error_at(p, fmt::format("{} needs {} bytes, {} left in the log", what, n, end - p), true);
    return {};
  };
  EntryView e;
  e.index = index_;
  e.offset = off_;
  e.order = opts_.order;
  IMASHIM_TRY_VOID(need(4 + kTemplateDigestSize + 4, "entry header (pcr, digest, name length)"));
  e.pcr = load32(log_.data() + p, opts_.order);
  e.template_digest = log_.subspan(p + 4, kTemplateDigestSize);
  p += 4 + kTemplateDigestSize;
  std::uint32_t name_len = load32(log_.data() + p, opts_.order);
  if (name_len == 0 || name_len > kMaxNameLen)
    return error_at(p, fmt::format("template name length {} is not in 1..{}", name_len, kMaxNameLen), false);
  p += 4;
  IMASHIM_TRY_VOID(need(name_len, "template name"));
  e.template_name = std::string_view(reinterpret_cast<const char*>(log_.data() + p), name_len);
  p += name_len;
  auto desc = template_for(e.template_name, log_.subspan(p));
  if (!desc) return error_at(p - name_len, desc.error().message(), false);
  e.desc = *desc;
  std::size_t data_end = end;
  if (!e.desc->is_ima()) {
    IMASHIM_TRY_VOID(need(4, "template data length"));
    std::uint32_t data_len = load32(log_.data() + p, opts_.order);
    p += 4;
    IMASHIM_TRY_VOID(need(data_len, fmt::format("template data of {} bytes", data_len)));
    e.template_data = log_.subspan(p, data_len);
    data_end = p + data_len;
  }
  for (std::size_t i = 0; i < e.desc->fields.size(); ++i) {
    std::string_view id = e.desc->fields[i]->id;
    bool ima = e.desc->is_ima();
    std::uint32_t len = kTemplateDigestSize;
    if (!(ima && id == "d")) {
      if (!ima && data_end - p < 4)
        return error_at(p, fmt::format("field {} length runs past the template data", id), false);
      IMASHIM_TRY_VOID(need(4, fmt::format("field {} length", id)));
      len = load32(log_.data() + p, opts_.order);
      p += 4;
    }
    if (!ima && data_end - p < len)
      return error_at(p, fmt::format("field {} of {} bytes runs past the template data", id, len), false);
    if (ima && id == "n" && len > kEventNameLenMax)
      return error_at(p - 4, fmt::format("ima template name of {} bytes exceeds {}", len, kEventNameLenMax), false);
    IMASHIM_TRY_VOID(need(len, fmt::format("field {}", id)));
    e.fields[i] = log_.subspan(p, len);
    p += len;
  }
  if (!e.desc->is_ima() && p != data_end)
    return error_at(p, fmt::format("{} bytes of template data follow the last field", data_end - p), false);
  e.size = p - off_;
  off_ = p;
  ++index_;
  return std::optional<EntryView>(std::move(e));
}

// ---------------------------------------------------------------- building entries

static Result<Bytes> checked_digest(const Measurement& m) {
  if (m.digest.size() != digest_size(m.algo))
    return fail(fmt::format("{} digest of {} must be {} bytes, got {}", hash_algo_name(m.algo), printable(m.path),
                            digest_size(m.algo), m.digest.size()));
  return m.digest;
}

static Result<Bytes> field_for(std::string_view id, const Measurement& m) {
  if (id == "d") {
    if (m.violation) return Bytes(kTemplateDigestSize, 0);
    if (m.digest.size() != 20 && m.digest.size() != 16)
      return fail(fmt::format("field d holds sha1 or md5 digests only, {} is {} bytes", printable(m.path),
                              m.digest.size()));
    return field_d(m.digest);
  }
  if (id == "d-ng" || id == "d-ngv2") {
    Bytes digest(digest_size(m.algo), 0);
    if (!m.violation) {
      IMASHIM_TRY(digest, checked_digest(m));
    }
    return id == "d-ng" ? field_d_ng(m.algo, digest) : field_d_ngv2(m.digest_type, m.algo, digest);
  }
  if (id == "n") return field_n(m.path);
  if (id == "n-ng") return field_n_ng(m.path);
  if (id == "sig") return m.signature;
  if (id == "buf") return m.buf;
  if (id == "nid") return m.mnt_ns ? field_nid(*m.mnt_ns) : Bytes{};
  if (id == "fi") return m.inode ? field_fi(*m.inode) : Bytes{};
  if (id == "dev") return m.dev.empty() ? Bytes{} : field_dev(m.dev);
  return Bytes{};  // d-modsig, modsig, evmsig, xattr*, iuid, igid, imode: no data given
}

Result<LogEntry> build_entry(const TemplatePtr& desc, const Measurement& m) {
  if (!desc) return fail("no template");
  LogEntry e;
  e.pcr = m.pcr;
  e.desc = desc;
  e.violation = m.violation;
  for (const TemplateField* f : desc->fields) {
    IMASHIM_TRY(Bytes data, field_for(f->id, m));
    e.fields.push_back(std::move(data));
  }
  return e;
}

Result<LogEntry> boot_aggregate_entry(const TemplatePtr& desc, HashAlgo algo, ByteView digest) {
  Measurement m;
  m.path = std::string(kBootAggregateName);
  m.algo = algo;
  m.digest.assign(digest.begin(), digest.end());
  return build_entry(desc, m);
}

Result<EntryView> view_of(const LogEntry& e, ByteView sha1, ByteOrder order) {
  if (!e.desc) return fail("entry has no template");
  if (e.fields.size() != e.desc->fields.size())
    return fail(fmt::format("template '{}' has {} fields, entry has {}", e.desc->display_name(),
                            e.desc->fields.size(), e.fields.size()));
  if (sha1.size() != kTemplateDigestSize) return fail("template digest must be 20 bytes");
  EntryView v;
  v.pcr = e.pcr;
  v.template_digest = sha1;
  v.template_name = e.desc->display_name();
  v.desc = e.desc;
  v.order = order;
  for (std::size_t i = 0; i < e.fields.size(); ++i) {
    ByteView f = e.fields[i];
    std::string_view id = e.desc->fields[i]->id;
    if (e.desc->is_ima() && id == "n") f = f.first(field_text(f).size());
    if (e.desc->is_ima() && id == "d" && f.size() != kTemplateDigestSize)
      return fail("the ima template's d field must be 20 bytes");
    if (e.desc->is_ima() && id == "n" && f.size() > kEventNameLenMax)
      return fail(fmt::format("the ima template's n field is limited to {} bytes", kEventNameLenMax));
    v.fields[i] = f;
  }
  return v;
}

Result<LogEntry> to_entry(const EntryView& v) {
  if (!v.desc) return fail("entry has no template");
  LogEntry e;
  e.pcr = v.pcr;
  e.desc = v.desc;
  e.violation = v.is_violation();
  for (std::size_t i = 0; i < v.desc->fields.size(); ++i) {
    Bytes f(v.fields[i].begin(), v.fields[i].end());
    if (v.desc->is_ima() && v.desc->fields[i]->id == "n") f.push_back(0);
    e.fields.push_back(std::move(f));
  }
  return e;
}

// ---------------------------------------------------------------- digests

Result<TemplateHasher> TemplateHasher::create(HashAlgo algo) {
  IMASHIM_TRY(Hasher h, Hasher::create(algo));
  return TemplateHasher(std::move(h));
}

Bytes TemplateHasher::digest(const EntryView& e) {
  h_.reset();
  if (!e.desc->is_ima() && !e.template_data.empty()) {
    h_.update(e.template_data);
    return h_.finish();
  }
  for (std::size_t i = 0; i < e.desc->fields.size(); ++i) {
    ByteView f = e.fields[i];
    if (!e.desc->is_ima()) {
      Bytes len;
      store32(len, static_cast<std::uint32_t>(f.size()), e.order);
      h_.update(len);
      h_.update(f);
    } else if (e.desc->fields[i]->id == "n") {
      std::uint8_t padded[kImaNamePadded] = {};
      std::memcpy(padded, f.data(), std::min(f.size(), kEventNameLenMax));
      h_.update(ByteView(padded, sizeof padded));
    } else {
      h_.update(f);
    }
  }
  return h_.finish();
}

Result<Bytes> template_digest(HashAlgo algo, const EntryView& e) {
  IMASHIM_TRY(TemplateHasher h, TemplateHasher::create(algo));
  return h.digest(e);
}

// ---------------------------------------------------------------- encoding

void append_binary_entry(Bytes& out, const EntryView& e, ByteOrder order) {
  store32(out, e.pcr, order);
  out.insert(out.end(), e.template_digest.begin(), e.template_digest.end());
  store32(out, static_cast<std::uint32_t>(e.template_name.size()), order);
  out.insert(out.end(), e.template_name.begin(), e.template_name.end());
  bool ima = e.desc->is_ima();
  if (!ima) {
    std::size_t len = 0;
    for (std::size_t i = 0; i < e.desc->fields.size(); ++i) len += 4 + e.fields[i].size();
    store32(out, static_cast<std::uint32_t>(len), order);
  }
  for (std::size_t i = 0; i < e.desc->fields.size(); ++i) {
    if (!(ima && e.desc->fields[i]->id == "d")) store32(out, static_cast<std::uint32_t>(e.fields[i].size()), order);
    out.insert(out.end(), e.fields[i].begin(), e.fields[i].end());
  }
}

Bytes encode_binary_entry(const EntryView& e, ByteOrder order) {
  Bytes out;
  append_binary_entry(out, e, order);
  return out;
}

void append_ascii_entry(std::string& out, const EntryView& e) {
  out += fmt::format("{:2d} ", e.pcr);
  out += to_hex(e.template_digest);
  out += ' ';
  out.append(e.template_name);
  for (std::size_t i = 0; i < e.desc->fields.size(); ++i) {
    out += ' ';
    if (!e.fields[i].empty()) append_field_ascii(out, *e.desc->fields[i], e.fields[i]);
  }
  out += '\n';
}

std::string format_ascii_entry(const EntryView& e) {
  std::string out;
  append_ascii_entry(out, e);
  return out;
}

Result<std::string> binary_to_ascii(ByteView log, const LogReadOptions& opts) {
  LogReader r(log, opts);
  std::string out;
  for (;;) {
    IMASHIM_TRY(auto e, r.next());
    if (!e) break;
    append_ascii_entry(out, *e);
  }
  return out;
}

Result<Bytes> convert_byte_order(ByteView log, const LogReadOptions& from, ByteOrder to) {
  LogReader r(log, from);
  Bytes out;
  out.reserve(log.size());
  for (;;) {
    IMASHIM_TRY(auto e, r.next());
    if (!e) break;
    append_binary_entry(out, *e, to);
  }
  return out;
}

Result<std::vector<FileMeasurement>> list_file_measurements(ByteView log, const LogReadOptions& opts) {
  LogReader r(log, opts);
  std::vector<FileMeasurement> out;
  for (;;) {
    IMASHIM_TRY(auto e, r.next());
    if (!e) break;
    if (!e->field("d-ngv2") && !e->field("d-ng") && !e->field("d")) continue;
    auto d = e->file_digest();
    if (!d) return fail(fmt::format("entry {} at byte {}: {}", e->index, e->offset, d.error().message()));
    FileMeasurement m;
    m.index = e->index;
    m.pcr = e->pcr;
    m.template_name = std::string(e->template_name);
    m.path = std::string(e->path());
    m.algo = d->algo;
    m.digest.assign(d->digest.begin(), d->digest.end());
    m.violation = e->is_violation();
    if (auto nid = e->field("nid")) m.nid = std::string(field_text(*nid));
    out.push_back(std::move(m));
  }
  return out;
}

// ---------------------------------------------------------------- replay

ReplayOptions::ReplayOptions() : banks{HashAlgo::sha1, HashAlgo::sha256} {}

bool ReplayResult::ok() const {
  if (first_bad_entry) return false;
  return std::all_of(checks.begin(), checks.end(), [](const PcrCheck& c) { return c.match; });
}

namespace {

struct Replayer {
  std::vector<PcrBank> banks;
  std::vector<TemplateHasher> hashers;  // parallel to banks
  std::optional<TemplateHasher> sha1;   // when sha1 is not a bank
  const PcrValues* expected = nullptr;
  std::map<std::pair<HashAlgo, std::uint32_t>, std::size_t> prefix;  // last prefix that matched

  static Result<Replayer> create(const std::vector<HashAlgo>& algos) {
    Replayer r;
    IMASHIM_TRY(r.banks, make_pcr_banks(algos));
    for (const auto& b : r.banks) {
      IMASHIM_TRY(TemplateHasher h, TemplateHasher::create(b.algo()));
      r.hashers.push_back(std::move(h));
    }
    if (!find_bank(r.banks, HashAlgo::sha1)) {
      IMASHIM_TRY(TemplateHasher h, TemplateHasher::create(HashAlgo::sha1));
      r.sha1 = std::move(h);
    }
    return r;
  }

  void note_prefix(std::uint32_t pcr, std::size_t entries_done) {
    if (!expected) return;
    for (const auto& b : banks) {
      auto bank = expected->find(b.algo());
      if (bank == expected->end()) continue;
      auto want = bank->second.find(pcr);
      if (want == bank->second.end()) continue;
      if (b.value(pcr) == want->second) prefix[{b.algo(), pcr}] = entries_done;
    }
  }

  // Returns the problem with this entry, if any.
  std::optional<std::string> apply(const EntryView& e) {
    if (e.is_violation()) {
      for (auto& b : banks) b.extend_violation(e.pcr);
      return std::nullopt;
    }
    Bytes sha1_digest;
    for (std::size_t i = 0; i < banks.size(); ++i) {
      Bytes d = hashers[i].digest(e);
      (void)banks[i].extend(e.pcr, d);
      if (banks[i].algo() == HashAlgo::sha1) sha1_digest = std::move(d);
    }
    if (sha1) sha1_digest = sha1->digest(e);
    if (!std::equal(sha1_digest.begin(), sha1_digest.end(), e.template_digest.begin(), e.template_digest.end()))
      return fmt::format("logged template digest {} but the entry's data hashes to {}", to_hex(e.template_digest),
                         to_hex(sha1_digest));
    return std::nullopt;
  }
};

Result<ReplayResult> run_replay(ByteView log, const ReplayOptions& opts, const PcrValues* expected) {
  IMASHIM_TRY(Replayer rp, Replayer::create(opts.banks));
  rp.expected = expected;
  if (expected)
    for (const auto& [algo, pcrs] : *expected)
      for (const auto& [pcr, v] : pcrs) rp.note_prefix(pcr, 0);
  ReplayResult res;
  LogReader r(log, opts.read);
  for (;;) {
    IMASHIM_TRY(auto e, r.next());
    if (!e) break;
    if (auto problem = rp.apply(*e); problem && !res.first_bad_entry)
      res.first_bad_entry = EntryProblem{e->index, e->offset, std::string(e->path()), *problem};
    if (e->is_violation()) ++res.violations;
    ++res.entries;
    rp.note_prefix(e->pcr, res.entries);
  }
  res.banks = std::move(rp.banks);
  if (expected) {
    for (const auto& [algo, pcrs] : *expected) {
      const PcrBank* b = find_bank(res.banks, algo);
      for (const auto& [pcr, want] : pcrs) {
        PcrCheck c{algo, pcr, want, b->value(pcr), false, std::nullopt};
        c.match = c.computed == c.expected;
        if (!c.match) {
          auto it = rp.prefix.find({algo, pcr});
          if (it != rp.prefix.end()) c.matching_prefix = it->second;
        }
        res.checks.push_back(std::move(c));
      }
    }
  }
  return res;
}

// The entry at `index` (for naming it in a report).
EntryProblem describe_entry(ByteView log, const LogReadOptions& opts, std::size_t index, std::string what) {
  LogReader r(log, opts);
  for (;;) {
    auto e = r.next();
    if (!e || !*e) break;
    if ((*e)->index == index) return EntryProblem{index, (*e)->offset, std::string((*e)->path()), std::move(what)};
  }
  return EntryProblem{index, log.size(), "", std::move(what)};
}

}  // namespace

Result<ReplayResult> replay_log(ByteView log, const ReplayOptions& opts) { return run_replay(log, opts, nullptr); }

Result<ReplayResult> verify_log(ByteView log, const PcrValues& expected, ReplayOptions opts) {
  for (const auto& [algo, pcrs] : expected)
    if (std::find(opts.banks.begin(), opts.banks.end(), algo) == opts.banks.end()) opts.banks.push_back(algo);
  IMASHIM_TRY(ReplayResult res, run_replay(log, opts, &expected));
  if (res.first_bad_entry) {
    res.first_divergent = res.first_bad_entry;
    return res;
  }
  for (const auto& c : res.checks) {
    if (c.match || !c.matching_prefix) continue;
    res.first_divergent =
        describe_entry(log, opts.read, *c.matching_prefix,
                       fmt::format("{} PCR {} matches the log up to entry {}; this entry and those after it are not "
                                   "covered by the PCR value",
                                   hash_algo_name(c.bank), c.pcr, *c.matching_prefix));
    break;
  }
  return res;
}

}  // namespace imashim::formats
