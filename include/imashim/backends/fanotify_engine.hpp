// The fanotify monitor's decision engine, apart from fanotify itself: events
// come from a source (the kernel's fanotify queue, or a recorded file for
// tests, as libscap replays capture files), the engine maps each to an IMA
// hook, evaluates the container's policy, measures, appraises and records.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/backends/backend.hpp"
#include "imashim/formats/hash.hpp"
#include "imashim/policy/policy.hpp"
#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::backends::fanotify {

// The kernel's mask bits (include/linux/fs.h), as policy rules name them.
inline constexpr unsigned kMayExec = 0x1;
inline constexpr unsigned kMayWrite = 0x2;
inline constexpr unsigned kMayRead = 0x4;
inline constexpr unsigned kMayAppend = 0x8;

// What happened, as fanotify reports it.
enum class EventKind {
  exec,         // FAN_OPEN_EXEC_PERM
  open,         // FAN_OPEN_PERM
  close_write,  // FAN_CLOSE_WRITE: a writer closed the file
};
std::string_view event_kind_name(EventKind kind);

// The IMA hook an event maps to.
enum class Hook { bprm_check, file_check, mmap_check };
std::string_view hook_name(Hook hook);  // "BPRM_CHECK", ...

// One version of one file: a cached result is valid while all of these match.
struct FileVersion {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::int64_t ctime_ns = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t size = 0;
  bool operator==(const FileVersion&) const = default;
};

// Who opened what.
struct FileEvent {
  EventKind kind = EventKind::open;
  pid_t pid = 0;
  uid_t uid = 0, euid = 0;  // the opener (from /proc/<pid>/status)
  gid_t gid = 0, egid = 0;
  bool ids_known = true;     // false when not read (the policy does not look at them)
  bool follows_exec = false;  // this open is the exec's own open (mask MAY_EXEC)
  FileVersion version;
  uid_t fowner = 0;
  gid_t fgroup = 0;
  mode_t fmode = 0;
  std::uint64_t fsmagic = 0;
  std::string path;  // as the container sees it (empty: not read yet, see path_of)
  // Reads the path when it is first needed (the monitor: the event fd's
  // /proc/self/fd link): decisions that log and record nothing cost no readlink.
  std::function<std::string()> path_of;
  // `path`, or what path_of reads (once).
  const std::string& full_path() const;

 private:
  mutable std::optional<std::string> resolved_;
};

// The file behind an event: its content and label. The real one reads the
// fanotify event fd with pread (which raises no events); tests use a fake.
class FileContent {
 public:
  virtual ~FileContent() = default;
  virtual Result<Bytes> digest(formats::HashAlgo algo) = 0;
  // security.ima, or nullopt when the file has none.
  virtual Result<std::optional<Bytes>> ima_xattr() = 0;
  virtual Result<void> set_ima_xattr(ByteView value) = 0;
  // First bytes of the file (ELF magic test for the MMAP_CHECK approximation).
  virtual Result<Bytes> head(std::size_t n) = 0;
};

// A policy's answer for one access, reduced to what the monitor acts on.
struct PolicyVerdict {
  bool measure = false;
  bool appraise = false;
  bool audit = false;
  bool require_signature = false;  // appraise_type=imasig
  std::string template_name;       // empty: the container's default
  int pcr = 10;
};

// One access as the policy sees it.
struct PolicyAccess {
  Hook hook = Hook::file_check;
  unsigned mask = kMayRead;
  uid_t uid = 0, euid = 0;
  gid_t gid = 0, egid = 0;
  uid_t fowner = 0;
  gid_t fgroup = 0;
  std::uint64_t fsmagic = 0;
};

// The container's policy as the engine uses it.
class PolicyView {
 public:
  virtual ~PolicyView() = default;
  virtual PolicyVerdict evaluate(const PolicyAccess& access) const = 0;
  // True when some rule looks at who opens (uid, euid, gid, egid, subject
  // labels) or at the open mask: then one verdict per file is not enough and
  // no ignore mark may be set.
  virtual bool depends_on_subject() const = 0;
  // True when some rule can match MMAP_CHECK (names it, or names no func).
  virtual bool uses_mmap_check() const = 0;
  // True when some rule looks at the opener's ids: /proc/<pid>/status is read only then.
  virtual bool uses_subject_ids() const { return depends_on_subject(); }
};
// What the monitor makes of a policy the kernel grammar accepts: an error for
// each rule it cannot evaluate (a mask of MAY_WRITE or MAY_APPEND: fanotify
// does not tell the opener's flags), a warning for each rule whose func it
// never sees (MODULE_CHECK, KEXEC_*, ...). `imactl policy check --backend fanotify`.
std::vector<policy::Diagnostic> policy_diagnostics(const policy::Policy& policy);
// Parses the container's policy (kernel grammar). Refuses the rules
// policy_diagnostics calls errors, naming each.
Result<std::unique_ptr<PolicyView>> make_policy_view(const std::string& policy_text);

// One measurement, ready for the log.
struct Measurement {
  std::string template_name;
  formats::HashAlgo algo = formats::HashAlgo::sha256;
  Bytes digest;
  std::string path;
  Bytes signature;  // security.ima when it is a signature (ima-sig)
  int pcr = 10;
};

// Where measurements go: the container's measurement log and PCR banks.
class MeasurementSink {
 public:
  virtual ~MeasurementSink() = default;
  virtual Result<void> append(const Measurement& m) = 0;
  // A violation entry (zero digest; PCRs extended with 0xff..).
  virtual Result<void> violation(const std::string& name, int pcr) = 0;
  // Makes the log and the pcrs files durable (fsync): at the end.
  virtual Result<void> flush() = 0;
  // The pcrs files' text now (cheap; under the engine's log lock) and writing it
  // out (temp file + rename, no fsync; outside the lock): the periodic refresh.
  using PcrFiles = std::vector<std::pair<std::string, std::string>>;
  virtual PcrFiles pcr_files() const { return {}; }
  virtual Result<void> publish(const PcrFiles& files) { (void)files; return {}; }
};
// The measurement log in `log_dir` (ascii, binary, pcrs), appended if present.
Result<std::unique_ptr<MeasurementSink>> open_log_sink(const std::filesystem::path& log_dir,
                                                       const std::string& default_template);

// Reference digests (layer manifests): path → digest.
class ReferenceDigests {
 public:
  virtual ~ReferenceDigests() = default;
  virtual std::optional<std::pair<formats::HashAlgo, Bytes>> lookup(const std::string& path) const = 0;
};
Result<std::unique_ptr<ReferenceDigests>> load_manifests(const std::vector<std::filesystem::path>& paths);

// Public keys that verify v2 signatures, looked up by key id (the last 4
// bytes of the SHA-1 of the public key, as evmctl and the kernel do).
class KeyRing {
 public:
  virtual ~KeyRing() = default;
  // Verifies `signature` (the whole security.ima value) over `digest`.
  virtual Result<bool> verify(ByteView signature, formats::HashAlgo algo, ByteView digest) const = 0;
};
Result<std::unique_ptr<KeyRing>> load_keys(const std::vector<std::filesystem::path>& paths);

// The engine's answer to one event.
struct Verdict {
  bool allow = true;
  std::string cause;       // kernel cause name when appraisal failed ("invalid-hash", ...)
  bool measured = false;   // a new entry went into the log
  bool ignorable = false;  // the same file version may be allowed without asking again
  Hook hook = Hook::file_check;
  std::string digest_hex;  // "algo:hex", when the file was hashed
};

// One decision as events.jsonl records it.
struct DecisionRecord {
  std::string container_id;
  const FileEvent* event = nullptr;
  const Verdict* verdict = nullptr;
  Mode mode = Mode::measure;
  std::string action;  // "measure", "appraise", "measure+appraise", "relabel", "error"
};
class DecisionRecorder {
 public:
  virtual ~DecisionRecorder() = default;
  virtual void record(const DecisionRecord& record) = 0;
};
// The text of the audit record of one decision (sent as AUDIT_TRUSTED_APP):
// a failure is shaped like the kernel's INTEGRITY_DATA record ("pid= uid= op=
// cause= comm= name= dev= ino= errno="), an `audit` rule's record like
// INTEGRITY_RULE ("file= hash="); both end with container= and imashim_mode=.
// `comm`: the opener's command name. Strings as the kernel's untrusted strings.
std::string audit_record_text(const DecisionRecord& record, std::string_view comm);
// events.jsonl in `log_dir`, plus audit records when the audit subsystem answers.
Result<std::unique_ptr<DecisionRecorder>> open_recorder(const std::filesystem::path& log_dir,
                                                        bool kernel_audit);

struct EngineConfig {
  std::string container_id;
  Mode mode = Mode::measure;
  formats::HashAlgo hash_algo = formats::HashAlgo::sha256;
  std::string template_name = "ima-ng";
};

// Maps events to hooks, evaluates the policy, measures once per file version,
// appraises, and records. Thread-safe: workers call it concurrently.
class Engine {
 public:
  Engine(EngineConfig config, std::unique_ptr<PolicyView> policy, std::unique_ptr<MeasurementSink> sink,
         std::unique_ptr<DecisionRecorder> recorder, std::unique_ptr<ReferenceDigests> refs,
         std::unique_ptr<KeyRing> keys);

  // A permission event: allow or deny.
  Verdict decide(const FileEvent& event, FileContent& content);
  // A writer closed the file: forget cached results; relabel it when the
  // container wrote it and appraisal is on (the kernel's appraise-mode update).
  void modified(const FileEvent& event, FileContent& content);
  // An internal error while preparing the event: the answer follows the mode.
  Verdict on_error(const FileEvent& event, const std::string& what);
  // Records a violation (a gap in monitoring, a failed log write).
  void violation(const std::string& name);
  Result<void> flush();
  // Refreshes the pcrs files without holding up the workers.
  Result<void> refresh();

  const EngineConfig& config() const { return config_; }
  std::uint64_t measurements() const;
  // Whether this file version was hashed already (a decision on it needs no hashing).
  bool hashed(const FileVersion& version) const;
  bool needs_subject_ids() const { return policy_->uses_subject_ids(); }

 private:
  struct VersionHash {
    std::size_t operator()(const FileVersion& v) const;
  };
  struct CacheEntry {
    bool measured[3] = {false, false, false};    // per hook
    std::optional<std::string> appraised[2];     // cause once appraised ("" = passed); [1]: imasig
    std::unordered_map<int, Bytes> digests;      // per algorithm
  };

  PolicyVerdict verdict_for(const FileEvent& event, bool code) const;
  Result<Bytes> digest(const FileEvent& event, FileContent& content, formats::HashAlgo algo);
  Result<void> measure(const FileEvent& event, FileContent& content, Hook hook, const PolicyVerdict& pv,
                       Verdict& out);
  std::string appraise(const FileEvent& event, FileContent& content, const PolicyVerdict& pv);
  std::string appraise_uncached(const FileEvent& event, FileContent& content, const PolicyVerdict& pv);
  bool looks_executable(const FileEvent& event, FileContent& content) const;
  static std::pair<std::uint64_t, std::uint64_t> key_of(const FileEvent& e) { return {e.version.dev, e.version.ino}; }
  bool fresh(const FileEvent& event) const;
  bool settled(const FileEvent& event, bool code);
  struct PairHash {
    std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& p) const { return p.first * 31 + p.second; }
  };
  void record(const FileEvent& event, const Verdict& v, const std::string& action);

  EngineConfig config_;
  std::unique_ptr<PolicyView> policy_;
  std::unique_ptr<MeasurementSink> sink_;
  std::unique_ptr<DecisionRecorder> recorder_;
  std::unique_ptr<ReferenceDigests> refs_;
  std::unique_ptr<KeyRing> keys_;
  mutable std::mutex mu_;
  std::unordered_map<FileVersion, CacheEntry, VersionHash> cache_;
  // Files the container created and has not closed yet: unlabelled until then.
  std::unordered_set<std::pair<std::uint64_t, std::uint64_t>, PairHash> fresh_;
  std::mutex log_mu_;
  std::uint64_t measurements_ = 0;
};

// Recorded events (one JSON object per line) for tests and for replaying what
// a monitor saw (`ima-monitor --record FILE`). A line:
//   {"kind":"exec","pid":7,"uid":0,"path":"/bin/sh","ino":12,"mtime_ns":1,
//    "content":"<text>" | "content_hex":"..", "xattr_hex":".."}
struct RecordedEvent {
  FileEvent event;
  Bytes content;
  std::optional<Bytes> xattr;
  // What a monitor records instead of the content: its digests ("digests":
  // {"sha256": hex}) and first bytes ("head_hex").
  std::map<formats::HashAlgo, Bytes> digests;
  Bytes head;
};
Result<std::vector<RecordedEvent>> read_recorded_events(const std::filesystem::path& file);
Result<RecordedEvent> parse_recorded_event(const nlohmann::json& j);
nlohmann::json recorded_event_json(const FileEvent& event, const std::optional<Bytes>& xattr,
                                   const std::map<formats::HashAlgo, Bytes>& digests = {}, ByteView head = {});

// A FileContent over bytes in memory (recorded events, tests).
class MemoryContent : public FileContent {
 public:
  MemoryContent(Bytes content, std::optional<Bytes> xattr, std::map<formats::HashAlgo, Bytes> digests = {},
                Bytes head = {})
      : content_(std::move(content)), xattr_(std::move(xattr)), digests_(std::move(digests)), head_(std::move(head)) {}
  Result<Bytes> digest(formats::HashAlgo algo) override;
  Result<std::optional<Bytes>> ima_xattr() override { return xattr_; }
  Result<void> set_ima_xattr(ByteView value) override;
  Result<Bytes> head(std::size_t n) override;
  int hash_calls = 0;

 private:
  Bytes content_;
  std::optional<Bytes> xattr_;
  std::map<formats::HashAlgo, Bytes> digests_;  // recorded digests stand for content not recorded
  Bytes head_;
};

// Feeds recorded events through the engine; returns one verdict per event
// (close_write events give an allow verdict).
std::vector<Verdict> replay(Engine& engine, std::vector<RecordedEvent>& events);

}  // namespace imashim::backends::fanotify
