#include "imashim/tpm/attest.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <set>

#include "imashim/formats/measurement_log.hpp"

namespace imashim::tpm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kBundleVersion = 1;
constexpr HashAlgo kQuoteBank = HashAlgo::sha256;
constexpr std::size_t kMaxNonce = 64;
constexpr std::string_view kBootAggregate = "boot_aggregate";

std::string base64(ByteView data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<Bytes> unbase64(const std::string& text, std::string_view what) {
  if (text.size() % 4 != 0) return fail(std::string(what) + ": not base64 (length " + std::to_string(text.size()) + ")");
  Bytes out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return fail(std::string(what) + ": not base64");
  std::size_t pad = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '=' && pad < 2; ++it) ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

Result<std::string> string_at(const json& j, const json::json_pointer& ptr) {
  if (!j.contains(ptr) || !j.at(ptr).is_string()) return fail("bundle: " + ptr.to_string() + " is missing or not a string");
  return j.at(ptr).get<std::string>();
}

Result<Bytes> bytes_at(const json& j, const std::string& ptr) {
  IMASHIM_TRY(std::string text, string_at(j, json::json_pointer(ptr)));
  return unbase64(text, "bundle: " + ptr);
}

Result<Bytes> hex_at(const json& j, const std::string& ptr) {
  IMASHIM_TRY(std::string text, string_at(j, json::json_pointer(ptr)));
  auto b = from_hex(text);
  if (!b) return std::move(b).with_context("bundle: " + ptr);
  return b;
}

Result<Bytes> read_optional(const fs::path& p) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return Bytes{};
  return formats::read_whole_file(p);
}

Result<std::vector<std::string>> containers_to_attest(const AttestRequest& req) {
  if (!req.all) {
    for (const auto& id : req.containers) {
      std::error_code ec;
      if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..")
        return fail("container id `" + id + "` is not a valid id");
      if (!fs::is_directory(req.log_root / id, ec))
        return fail("no log directory for container " + id + " under " + req.log_root.string());
    }
    return req.containers;
  }
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(req.log_root, ec)) {
    std::string name = d.path().filename().string();
    if (d.is_directory() && !name.starts_with("@")) ids.push_back(name);
  }
  if (ec) return fail("list " + req.log_root.string() + ": " + ec.message());
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<json> container_entry(const fs::path& dir, const std::string& id) {
  IMASHIM_TRY(Bytes log, read_optional(dir / kContainerBinaryLog));
  IMASHIM_TRY(Bytes marker, read_optional(dir / kUnanchoredMarker));
  json c = {{"id", id}, {"log", base64(log)}, {"unanchored", nullptr}};
  if (fs::exists(dir / kUnanchoredMarker)) {
    std::string why(marker.begin(), marker.end());
    while (!why.empty() && why.back() == '\n') why.pop_back();
    c["unanchored"] = why;
  }
  return c;
}

// ---- verification ----

struct Bundle {
  Bytes nonce, pcr_value, attest, signature, ak_public, anchor_log;
  unsigned pcr = 0;
  std::string ak_pem;
};

Result<Bundle> parse_bundle(const json& j) {
  if (!j.is_object() || j.value("format", "") != kBundleFormat)
    return fail("not an imashim attestation bundle (format is not \"imashim-attestation\")");
  if (j.value("version", 0) != kBundleVersion) return fail("bundle version " + j.value("version", json()).dump() + " is not supported");
  if (j.value("bank", "") != formats::hash_algo_name(kQuoteBank)) return fail("bundle: bank must be sha256");
  if (!j.contains("pcr") || !j["pcr"].is_number_unsigned() || j["pcr"].get<unsigned>() > 23)
    return fail("bundle: pcr is missing or not 0-23");
  if (!j.contains("containers") || !j["containers"].is_array()) return fail("bundle: containers is not an array");
  Bundle b;
  b.pcr = j["pcr"].get<unsigned>();
  IMASHIM_TRY(b.nonce, hex_at(j, "/nonce"));
  IMASHIM_TRY(b.pcr_value, hex_at(j, "/pcr_value"));
  IMASHIM_TRY(b.attest, bytes_at(j, "/quote/attest"));
  IMASHIM_TRY(b.signature, bytes_at(j, "/quote/signature"));
  IMASHIM_TRY(b.ak_public, bytes_at(j, "/ak/public"));
  IMASHIM_TRY(b.anchor_log, bytes_at(j, "/anchor_log"));
  return b;
}

// The AK, the signature, the nonce and the PCR composite.
void check_quote(const Bundle& b, const VerifyOptions& opts, VerifyReport& report) {
  if (opts.ak_pem) {
    auto same = ak_matches_pem(b.ak_public, *opts.ak_pem);
    if (!same) report.problems.push_back("--ak-pub: " + same.error().message());
    else if (!*same) report.problems.push_back("the quote was signed by a different AK than the node's (--ak-pub)");
  } else {
    report.warnings.push_back("AK not pinned (no --ak-pub): the bundle's own key was used, which proves only self-consistency");
  }
  if (auto sig = verify_quote_signature(b.ak_public, b.attest, b.signature); !sig) {
    report.problems.push_back(sig.error().message());
    return;
  }
  auto info = parse_quote(b.attest);
  if (!info) {
    report.problems.push_back(info.error().message());
    return;
  }
  report.quote = *info;
  if (info->nonce != b.nonce) report.problems.push_back("the quote's nonce is not the bundle's nonce");
  if (!opts.nonce) report.warnings.push_back("nonce not checked (no --nonce): an old quote would pass");
  else if (info->nonce != *opts.nonce)
    report.problems.push_back("nonce mismatch: the quote answers challenge " + to_hex(info->nonce) + ", not " +
                              to_hex(*opts.nonce) + " (an old quote replayed?)");
  if (info->bank != kQuoteBank || info->pcrs != std::vector<unsigned>{b.pcr})
    report.problems.push_back("the quote does not cover exactly PCR " + std::to_string(b.pcr) + " of sha256");
  auto composite = pcr_composite(HashAlgo::sha256, {b.pcr_value});
  if (!composite || *composite != info->pcr_digest)
    report.problems.push_back("the bundle's PCR " + std::to_string(b.pcr) + " value is not the quoted one");
}

// The anchor log against the quoted PCR; its records when it replays.
std::vector<AnchorRecord> check_anchor_log(const Bundle& b, VerifyReport& report) {
  formats::ReplayOptions ro;
  ro.banks = {kQuoteBank};
  auto replay = formats::replay_log(b.anchor_log, ro);
  if (!replay) {
    report.problems.push_back("node anchor log: " + replay.error().message());
    return {};
  }
  if (replay->banks[0].value(b.pcr) != b.pcr_value) {
    report.problems.push_back("the node anchor log (" + std::to_string(replay->entries) + " entries) does not replay to the quoted PCR " +
                              std::to_string(b.pcr) + ": it was truncated or altered");
    return {};
  }
  auto records = read_anchor_log(b.anchor_log);
  if (!records) {
    report.problems.push_back(records.error().message());
    return {};
  }
  return std::move(*records);
}

struct ReplayedLog {
  std::size_t entries = 0;
  std::map<std::size_t, Bytes> vpcr_at;  // after N entries, for the anchored N
};

// Replays a container log in `bank`, remembering the virtual PCR after each
// anchored count, and checks every measured file against the reference.
Result<ReplayedLog> replay_container(ByteView log, HashAlgo bank, const std::set<std::size_t>& counts,
                                     const VerifyOptions& opts, std::size_t anchored, ContainerResult& out) {
  ReplayedLog r;
  IMASHIM_TRY(formats::PcrBank vpcr, formats::PcrBank::create(bank));
  IMASHIM_TRY(formats::TemplateHasher hasher, formats::TemplateHasher::create(bank));
  formats::LogReader reader(log);
  if (counts.count(0)) r.vpcr_at[0] = vpcr.value(kContainerLogPcr);
  for (;;) {
    IMASHIM_TRY(auto e, reader.next());
    if (!e) break;
    if (e->is_violation()) vpcr.extend_violation(e->pcr);
    else IMASHIM_TRY_VOID(vpcr.extend(e->pcr, hasher.digest(*e)));
    r.entries = e->index + 1;
    if (counts.count(r.entries)) r.vpcr_at[r.entries] = vpcr.value(kContainerLogPcr);
    if (!opts.reference || e->is_violation() || e->path() == kBootAggregate) continue;
    auto d = e->file_digest();
    if (!d) return std::move(d).with_context("entry " + std::to_string(e->index));
    FileVerdict v = opts.reference->check(e->path(), d->digest);
    std::string algo = d->algo ? std::string(formats::hash_algo_name(*d->algo)) + ":" : "";
    switch (v) {
      case FileVerdict::ok: ++out.files_ok; continue;
      case FileVerdict::excluded: ++out.files_excluded; continue;
      case FileVerdict::unknown_file: ++out.files_unknown; break;
      case FileVerdict::wrong_digest: ++out.files_wrong; break;
    }
    out.files.push_back({e->index, std::string(e->path()), algo + to_hex(d->digest), v, e->index < anchored});
  }
  return r;
}

void check_anchors(const std::vector<const AnchorRecord*>& anchors, const ReplayedLog& log, ContainerResult& c) {
  for (const AnchorRecord* a : anchors) {
    std::string where = "anchor #" + std::to_string(a->index) + " (" + std::to_string(a->entries) + " entries)";
    auto it = log.vpcr_at.find(a->entries);
    if (a->entries > log.entries) {
      c.problems.push_back(where + ": the log has only " + std::to_string(log.entries) + " entries: entries were dropped");
      return;
    }
    if (it == log.vpcr_at.end() || it->second != a->virtual_pcr) {
      c.problems.push_back(where + ": the log's first " + std::to_string(a->entries) +
                           " entries do not replay to the anchored virtual PCR: the log was altered, reordered, "
                           "or is another container's");
      return;
    }
  }
  if (c.final_anchor && log.entries > c.anchored_entries)
    c.problems.push_back(std::to_string(log.entries - c.anchored_entries) +
                         " entries follow the final anchor taken at delete: they were added afterwards");
}

ContainerResult check_container(const json& cj, const std::vector<AnchorRecord>& records, const VerifyOptions& opts) {
  ContainerResult c;
  c.id = cj.value("id", "");
  if (cj.contains("unanchored") && cj["unanchored"].is_string()) {
    c.unanchored = cj["unanchored"].get<std::string>();
    c.problems.push_back("the node could not anchor this log: " + *c.unanchored);
  }
  std::vector<const AnchorRecord*> anchors;
  std::set<std::size_t> counts;
  for (const auto& r : records) {
    if (r.container_id != c.id) continue;
    if (r.event == AnchorEvent::start) {  // a new container with this id: earlier anchors were its predecessor's
      anchors.clear();
      counts.clear();
    }
    anchors.push_back(&r);
    counts.insert(r.entries);
  }
  c.anchors = anchors.size();
  HashAlgo bank = anchors.empty() ? kQuoteBank : anchors.back()->algo;
  if (!anchors.empty()) {
    c.anchored_entries = anchors.back()->entries;
    c.final_anchor = anchors.back()->event == AnchorEvent::delete_;
  }
  auto log = unbase64(cj.value("log", ""), "log");
  if (!log) {
    c.problems.push_back(log.error().message());
    return c;
  }
  auto replay = replay_container(*log, bank, counts, opts, c.anchored_entries, c);
  if (!replay) {
    c.problems.push_back("log: " + replay.error().message());
    return c;
  }
  c.log_entries = replay->entries;
  if (anchors.empty()) c.problems.push_back("the node anchor log has no anchor for this container");
  else check_anchors(anchors, *replay, c);
  return c;
}

std::string line_for(const ContainerResult& c) {
  std::string s = "container " + c.id + ": " + (c.ok() ? "ok" : "FAILED") + " (" + std::to_string(c.log_entries) +
                  " entries, " + std::to_string(c.anchored_entries) + " anchored by " + std::to_string(c.anchors) +
                  " anchors" + (c.final_anchor ? ", final" : "") + ")";
  if (c.log_entries > c.anchored_entries && !c.final_anchor)
    s += ", " + std::to_string(c.log_entries - c.anchored_entries) + " entries after the last anchor";
  s += "; files: " + std::to_string(c.files_ok) + " ok, " + std::to_string(c.files_unknown) + " unknown, " +
       std::to_string(c.files_wrong) + " wrong digest, " + std::to_string(c.files_excluded) + " excluded\n";
  for (const auto& p : c.problems) s += "  - " + p + "\n";
  for (const auto& f : c.files)
    s += "  - " + f.path + ": " + std::string(verdict_name(f.verdict)) + " (" + f.digest + ")" +
         (f.anchored ? "" : " [not anchored]") + "\n";
  return s;
}

}  // namespace

Result<json> create_bundle(Tpm& tpm, const AttestRequest& req) {
  if (req.nonce.empty() || req.nonce.size() > kMaxNonce)
    return fail("--nonce must be 1 to 64 bytes of hex, got " + std::to_string(req.nonce.size()) + " bytes");
  IMASHIM_TRY(std::vector<std::string> ids, containers_to_attest(req));
  IMASHIM_TRY(os::UniqueFd lock, lock_anchor_dir(req.config.anchor_dir));
  const unsigned pcrs[] = {req.config.pcr};
  IMASHIM_TRY(Quote quote, tpm.quote(pcrs, kQuoteBank, req.nonce));
  IMASHIM_TRY(Bytes value, tpm.pcr_read(req.config.pcr, kQuoteBank));
  IMASHIM_TRY(Bytes ak, tpm.ak_public());
  IMASHIM_TRY(std::string pem, ak_public_pem(ak));
  IMASHIM_TRY(Bytes anchor_log, read_optional(req.config.anchor_dir / kAnchorBinaryLog));
  json containers = json::array();
  for (const auto& id : ids) {
    IMASHIM_TRY(json c, container_entry(req.log_root / id, id));
    containers.push_back(std::move(c));
  }
  return json{{"format", kBundleFormat},
              {"version", kBundleVersion},
              {"nonce", to_hex(req.nonce)},
              {"pcr", req.config.pcr},
              {"bank", formats::hash_algo_name(kQuoteBank)},
              {"pcr_value", to_hex(value)},
              {"quote", {{"attest", base64(quote.attest)}, {"signature", base64(quote.signature)}}},
              {"ak", {{"public", base64(ak)}, {"pem", pem}}},
              {"anchor_log", base64(anchor_log)},
              {"containers", std::move(containers)}};
}

Result<json> create_bundle(const AttestRequest& req) {
  IMASHIM_TRY(std::unique_ptr<Tpm> tpm, open_tpm(req.config.tpm));
  return create_bundle(*tpm, req);
}

bool ContainerResult::ok() const { return problems.empty() && files_unknown == 0 && files_wrong == 0; }

bool VerifyReport::ok() const {
  if (!problems.empty()) return false;
  return std::all_of(containers.begin(), containers.end(), [](const ContainerResult& c) { return c.ok(); });
}

Result<VerifyReport> verify_bundle(const json& bundle, const VerifyOptions& opts) {
  IMASHIM_TRY(Bundle b, parse_bundle(bundle));
  VerifyReport report;
  check_quote(b, opts, report);
  if (!opts.reference) report.warnings.push_back("no reference (--reference/--keylime-policy): file digests not checked");
  std::vector<AnchorRecord> records = report.problems.empty() ? check_anchor_log(b, report) : std::vector<AnchorRecord>{};
  for (const auto& cj : bundle["containers"]) {
    if (!cj.is_object() || !cj.contains("id") || !cj["id"].is_string()) return fail("bundle: a container has no id");
    report.containers.push_back(check_container(cj, records, opts));
  }
  return report;
}

nlohmann::json VerifyReport::to_json() const {
  json cs = json::array();
  for (const auto& c : containers) {
    json files = json::array();
    for (const auto& f : c.files)
      files.push_back({{"index", f.index}, {"path", f.path}, {"digest", f.digest},
                       {"verdict", verdict_name(f.verdict)}, {"anchored", f.anchored}});
    cs.push_back({{"id", c.id}, {"ok", c.ok()}, {"log_entries", c.log_entries},
                  {"anchored_entries", c.anchored_entries}, {"anchors", c.anchors},
                  {"final_anchor", c.final_anchor}, {"unanchored", c.unanchored ? json(*c.unanchored) : json(nullptr)},
                  {"problems", c.problems},
                  {"files", {{"ok", c.files_ok}, {"unknown", c.files_unknown}, {"wrong_digest", c.files_wrong},
                             {"excluded", c.files_excluded}, {"failed", files}}}});
  }
  json q = nullptr;
  if (quote)
    q = {{"nonce", to_hex(quote->nonce)}, {"pcrs", quote->pcrs}, {"clock", quote->clock},
         {"reset_count", quote->reset_count}, {"restart_count", quote->restart_count}};
  return {{"ok", ok()}, {"problems", problems}, {"warnings", warnings}, {"quote", q}, {"containers", cs}};
}

std::string VerifyReport::to_text() const {
  std::string s;
  s += std::string("quote: ") + (problems.empty() ? "ok" : "FAILED") + "\n";
  for (const auto& p : problems) s += "  - " + p + "\n";
  for (const auto& w : warnings) s += "warning: " + w + "\n";
  for (const auto& c : containers) s += line_for(c);
  s += std::string("result: ") + (ok() ? "ok" : "FAILED") + "\n";
  return s;
}

}  // namespace imashim::tpm
