// The decision engine: hook mapping, policy, measurement cache, appraisal.
#include <array>
#include <cstring>
#include <utility>

#include "imashim/backends/fanotify_engine.hpp"
#include "label.hpp"

namespace imashim::backends::fanotify {
namespace {

constexpr std::array<std::string_view, 3> kHookNames{"BPRM_CHECK", "FILE_CHECK", "MMAP_CHECK"};
constexpr std::array<std::string_view, 3> kKindNames{"exec", "open", "close_write"};
constexpr std::uint8_t kElfMagic[4] = {0x7f, 'E', 'L', 'F'};

int hook_index(Hook h) { return static_cast<int>(h); }

// The IMA hooks one event stands for, with the mask the kernel would pass.
struct HookCall {
  Hook hook;
  unsigned mask;
};

PolicyAccess access_for(const FileEvent& e, const HookCall& call) {
  PolicyAccess a;
  a.hook = call.hook;
  a.mask = call.mask;
  a.uid = e.uid;
  a.euid = e.euid;
  a.gid = e.gid;
  a.egid = e.egid;
  a.fowner = e.fowner;
  a.fgroup = e.fgroup;
  a.fsmagic = e.fsmagic;
  return a;
}

void merge(PolicyVerdict& into, const PolicyVerdict& v) {
  into.measure = into.measure || v.measure;
  into.appraise = into.appraise || v.appraise;
  into.audit = into.audit || v.audit;
  into.require_signature = into.require_signature || v.require_signature;
  if (into.template_name.empty()) into.template_name = v.template_name;
}

}  // namespace

const std::string& FileEvent::full_path() const {
  if (!path.empty() || !path_of) return path;
  if (!resolved_) resolved_ = path_of();
  return *resolved_;
}

std::string_view hook_name(Hook hook) { return kHookNames[hook_index(hook)]; }
std::string_view event_kind_name(EventKind kind) { return kKindNames[static_cast<int>(kind)]; }

std::size_t Engine::VersionHash::operator()(const FileVersion& v) const {
  std::size_t h = std::hash<std::uint64_t>{}(v.ino);
  h ^= std::hash<std::uint64_t>{}(v.dev) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= std::hash<std::int64_t>{}(v.mtime_ns) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

Engine::Engine(EngineConfig config, std::unique_ptr<PolicyView> policy, std::unique_ptr<MeasurementSink> sink,
               std::unique_ptr<DecisionRecorder> recorder, std::unique_ptr<ReferenceDigests> refs,
               std::unique_ptr<KeyRing> keys)
    : config_(std::move(config)),
      policy_(std::move(policy)),
      sink_(std::move(sink)),
      recorder_(std::move(recorder)),
      refs_(std::move(refs)),
      keys_(std::move(keys)) {}

std::uint64_t Engine::measurements() const {
  std::lock_guard lock(mu_);
  return measurements_;
}

bool Engine::hashed(const FileVersion& version) const {
  std::lock_guard lock(mu_);
  auto it = cache_.find(version);
  return it != cache_.end() && it->second.digests.count(static_cast<int>(config_.hash_algo)) != 0;
}

bool Engine::looks_executable(const FileEvent& event, FileContent& content) const {
  if (event.fmode & 0111) return true;
  auto head = content.head(4);
  return head && head->size() == 4 && std::memcmp(head->data(), kElfMagic, 4) == 0;
}

// exec → BPRM_CHECK; the exec's own open → FILE_CHECK with MAY_EXEC; any
// other open → FILE_CHECK (MAY_READ: fanotify does not tell the opener's
// flags), plus MMAP_CHECK for files that look like executable code.
PolicyVerdict Engine::verdict_for(const FileEvent& event, bool code) const {
  if (event.kind == EventKind::exec) return policy_->evaluate(access_for(event, {Hook::bprm_check, kMayExec}));
  PolicyVerdict out = policy_->evaluate(access_for(event, {Hook::file_check, event.follows_exec ? kMayExec : kMayRead}));
  if (code) merge(out, policy_->evaluate(access_for(event, {Hook::mmap_check, kMayExec})));
  return out;
}

Result<Bytes> Engine::digest(const FileEvent& event, FileContent& content, formats::HashAlgo algo) {
  {
    std::lock_guard lock(mu_);
    auto& entry = cache_[event.version];
    auto it = entry.digests.find(static_cast<int>(algo));
    if (it != entry.digests.end()) return it->second;
  }
  IMASHIM_TRY(Bytes d, content.digest(algo));
  std::lock_guard lock(mu_);
  cache_[event.version].digests[static_cast<int>(algo)] = d;
  return d;
}

Result<void> Engine::measure(const FileEvent& event, FileContent& content, Hook hook, const PolicyVerdict& pv,
                             Verdict& out) {
  int slot = pv.pcr == 10 ? 0 : 1;  // once per file version per PCR, as the kernel's measured_pcrs
  {
    std::lock_guard lock(mu_);
    if (cache_[event.version].measured[slot]) return {};
  }
  IMASHIM_TRY(Bytes d, digest(event, content, config_.hash_algo));
  Measurement m;
  m.template_name = pv.template_name.empty() ? config_.template_name : pv.template_name;
  m.algo = config_.hash_algo;
  m.digest = d;
  m.path = event.full_path();
  m.pcr = pv.pcr;
  if (m.template_name.find("sig") != std::string::npos) {  // ima-sig and custom templates with `sig`
    if (auto x = content.ima_xattr(); x && *x) {
      auto label = decode_label(**x);
      if (label && label->kind == Label::Kind::signature) m.signature = **x;
    }
  }
  std::lock_guard log_lock(log_mu_);
  {
    std::lock_guard lock(mu_);  // another worker may have measured it meanwhile
    if (cache_[event.version].measured[slot]) return {};
  }
  IMASHIM_TRY_VOID(sink_->append(m));
  std::lock_guard lock(mu_);
  cache_[event.version].measured[slot] = true;
  ++measurements_;
  out.measured = true;
  out.digest_hex = std::string(formats::hash_algo_name(m.algo)) + ":" + to_hex(d);
  (void)hook;
  return {};
}

std::string Engine::appraise(const FileEvent& event, FileContent& content, const PolicyVerdict& pv) {
  int slot = pv.require_signature ? 1 : 0;
  {
    std::lock_guard lock(mu_);
    auto& entry = cache_[event.version];
    if (entry.appraised[slot]) return *entry.appraised[slot];
  }
  std::string cause = appraise_uncached(event, content, pv);
  std::lock_guard lock(mu_);
  cache_[event.version].appraised[slot] = cause;
  return cause;
}

// The kernel's ima_appraise_measurement(), cause names included.
std::string Engine::appraise_uncached(const FileEvent& event, FileContent& content, const PolicyVerdict& pv) {
  auto xattr = content.ima_xattr();
  if (!xattr) return "failed";
  if (!*xattr) {
    if (refs_) {
      if (auto ref = refs_->lookup(event.full_path())) {
        auto d = digest(event, content, ref->first);
        if (!d) return "failed";
        if (pv.require_signature) return "IMA-signature-required";
        return *d == ref->second ? "" : "invalid-hash";
      }
    }
    // A file the container just created has no label until its writer closes
    // it (the kernel's IMA_NEW_FILE): empty and unlabelled, or seen so before.
    std::lock_guard lock(mu_);
    if (event.version.size == 0) fresh_.insert(key_of(event));
    if (fresh_.count(key_of(event))) return "";
    return "missing-hash";
  }
  auto label = decode_label(**xattr);
  if (!label || !label->algo) return "unknown-ima-data";
  auto d = digest(event, content, *label->algo);
  if (!d) return "failed";
  if (label->kind == Label::Kind::digest) {
    if (pv.require_signature) return "IMA-signature-required";
    return *d == label->digest ? "" : "invalid-hash";
  }
  if (label->kind == Label::Kind::signature) {
    if (!keys_) return "invalid-signature";
    auto ok = keys_->verify(**xattr, *label->algo, *d);
    return ok && *ok ? "" : "invalid-signature";
  }
  return "unknown-ima-data";
}

Verdict Engine::decide(const FileEvent& event, FileContent& content) {
  Verdict out;
  out.hook = event.kind == EventKind::exec ? Hook::bprm_check : Hook::file_check;
  // Only policies with MMAP_CHECK rules need to know whether the file is code.
  bool code = event.kind != EventKind::exec && policy_->uses_mmap_check() && looks_executable(event, content);
  PolicyVerdict pv = verdict_for(event, code);
  std::string action;
  if (pv.measure) {
    action = "measure";
    if (auto r = measure(event, content, out.hook, pv, out); !r) {
      // A file that cannot be measured is a violation; the answer follows the mode.
      violation("measure-failed");
      out.cause = "failed";
    }
  }
  bool appraised_now = false;
  if (pv.appraise && config_.mode != Mode::measure && out.cause.empty()) {
    action += action.empty() ? "appraise" : "+appraise";
    {
      std::lock_guard lock(mu_);
      auto& entry = cache_[event.version];
      appraised_now = !entry.appraised[pv.require_signature ? 1 : 0].has_value();
    }
    out.cause = appraise(event, content, pv);
  }
  bool failed = !out.cause.empty();
  out.allow = !failed || config_.mode != Mode::enforce;
  out.ignorable = !failed && !policy_->depends_on_subject() && !fresh(event) && settled(event, code);
  if (out.measured || appraised_now || failed || pv.audit) record(event, out, action.empty() ? "audit" : action);
  return out;
}

// An ignore mark on FAN_OPEN_PERM also silences the exec's own open (FILE_CHECK
// with MAY_EXEC) and plain opens (MAY_READ): set it only when the other kind
// of open would find nothing left to do for this file version either.
bool Engine::settled(const FileEvent& event, bool code) {
  if (event.kind == EventKind::exec) return true;  // OPEN_EXEC_PERM is BPRM_CHECK alone, decided now
  FileEvent other = event;
  other.follows_exec = !event.follows_exec;
  PolicyVerdict pv = verdict_for(other, code);
  std::lock_guard lock(mu_);
  auto& entry = cache_[event.version];
  if (pv.measure && !entry.measured[pv.pcr == 10 ? 0 : 1]) return false;
  if (pv.appraise && config_.mode != Mode::measure) {
    const auto& a = entry.appraised[pv.require_signature ? 1 : 0];
    if (!a || !a->empty()) return false;
  }
  return true;
}

bool Engine::fresh(const FileEvent& event) const {
  std::lock_guard lock(mu_);
  return fresh_.count(key_of(event)) != 0;
}

void Engine::modified(const FileEvent& event, FileContent& content) {
  {
    std::lock_guard lock(mu_);
    fresh_.erase(key_of(event));
    for (auto it = cache_.begin(); it != cache_.end();)
      it = it->first.dev == event.version.dev && it->first.ino == event.version.ino ? cache_.erase(it)
                                                                                     : std::next(it);
  }
  if (config_.mode == Mode::measure) return;
  // Relabel only files some appraise rule covers, and never over a signature.
  PolicyVerdict pv;
  for (Hook h : {Hook::file_check, Hook::bprm_check, Hook::mmap_check})
    merge(pv, policy_->evaluate(access_for(event, {h, h == Hook::file_check ? kMayRead : kMayExec})));
  if (!pv.appraise) return;
  formats::HashAlgo algo = config_.hash_algo;
  if (auto x = content.ima_xattr(); x && *x) {
    auto label = decode_label(**x);
    if (label && label->kind == Label::Kind::signature) return;
    if (label && label->kind == Label::Kind::digest && label->algo) algo = *label->algo;
  }
  Verdict v;
  auto d = content.digest(algo);
  if (!d) {
    v.cause = "failed";
    record(event, v, "relabel");
    return;
  }
  auto r = content.set_ima_xattr(encode_digest_label(algo, *d));
  if (!r) v.cause = "failed";
  v.digest_hex = std::string(formats::hash_algo_name(algo)) + ":" + to_hex(*d);
  record(event, v, "relabel");
}

Verdict Engine::on_error(const FileEvent& event, const std::string& what) {
  Verdict out;
  out.cause = "failed";
  out.allow = config_.mode != Mode::enforce;
  out.digest_hex = what;
  record(event, out, "error");
  return out;
}

void Engine::violation(const std::string& name) {
  std::lock_guard log_lock(log_mu_);
  (void)sink_->violation(name, 10);
}

Result<void> Engine::flush() {
  std::lock_guard log_lock(log_mu_);
  return sink_->flush();
}

Result<void> Engine::refresh() {
  MeasurementSink::PcrFiles files;
  {
    std::lock_guard log_lock(log_mu_);
    files = sink_->pcr_files();
  }
  return sink_->publish(files);
}

void Engine::record(const FileEvent& event, const Verdict& v, const std::string& action) {
  if (!recorder_) return;
  DecisionRecord r;
  r.container_id = config_.container_id;
  r.event = &event;
  r.verdict = &v;
  r.mode = config_.mode;
  r.action = action;
  recorder_->record(r);
}

}  // namespace imashim::backends::fanotify
