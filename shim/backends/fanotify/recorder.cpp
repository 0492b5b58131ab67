// Decision records (events.jsonl, audit) and recorded events (replay).
#include <fcntl.h>
#include <libaudit.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <chrono>
#include <fstream>
#include <mutex>

#include <fmt/format.h>

#include "imashim/backends/fanotify_engine.hpp"
#include "monitor_internal.hpp"

namespace imashim::backends::fanotify {
namespace {

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[40];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06d}Z", buf, us);
}

// A JSON string; bytes that are not UTF-8 replaced, as append_jsonl does.
std::string json_string(const std::string& s) {
  bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
  });
  if (plain) return "\"" + s + "\"";
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class JsonlRecorder : public DecisionRecorder {
 public:
  JsonlRecorder(os::UniqueFd fd, int audit_fd) : fd_(std::move(fd)), audit_fd_(audit_fd) {}
  ~JsonlRecorder() override {
    if (audit_fd_ >= 0) audit_close(audit_fd_);
  }

  // One line, keys in the order nlohmann::json would sort them, written with
  // one write() (O_APPEND): no JSON object is built per decision.
  void record(const DecisionRecord& r) override {
    const Verdict& v = *r.verdict;
    // A finding names who opened the file even when the policy did not need
    // the ids to decide: the opener waits for our answer, so it is there to ask.
    FileEvent with_ids;
    const FileEvent* event = r.event;
    if (!event->ids_known && !v.cause.empty()) {
      with_ids = *event;
      if (read_status(event->pid, with_ids)) {
        with_ids.ids_known = true;
        event = &with_ids;
      }
    }
    const FileEvent& e = *event;
    std::string uid = e.ids_known ? std::to_string(e.uid) : "null", euid = e.ids_known ? std::to_string(e.euid) : "null";
    std::string line = fmt::format(
        "{{\"action\":{},\"cause\":{},\"container\":{},\"decision\":\"{}\",{}\"euid\":{},\"event\":\"{}\","
        "\"hook\":\"{}\",\"measured\":{},\"mode\":\"{}\",\"path\":{},\"pid\":{},\"time\":\"{}\",\"uid\":{}}}\n",
        json_string(r.action), json_string(v.cause), json_string(r.container_id), v.allow ? "allow" : "deny",
        v.digest_hex.empty() ? std::string() : "\"digest\":" + json_string(v.digest_hex) + ",", euid,
        event_kind_name(e.kind), hook_name(v.hook), v.measured, mode_name(r.mode), json_string(e.full_path()), e.pid,
        now_rfc3339(), uid);
    (void)!::write(fd_.get(), line.data(), line.size());
    if (audit_fd_ >= 0 && (!v.cause.empty() || r.action == "audit")) audit(r, e, v);
  }

 private:
  void audit(const DecisionRecord& r, const FileEvent& e, const Verdict& v) {
    DecisionRecord with_ids = r;
    with_ids.event = &e;
    std::string msg = audit_record_text(with_ids, comm_of(e.pid));
    std::lock_guard lock(audit_mu_);
    // User space may only send user message types: AUDIT_TRUSTED_APP. libaudit
    // adds exe=, hostname=, addr=, terminal= and res=success|failed.
    audit_log_user_message(audit_fd_, AUDIT_TRUSTED_APP, msg.c_str(), nullptr, nullptr, nullptr,
                           v.cause.empty() ? 1 : 0);
  }
  static std::string comm_of(pid_t pid) {
    char path[64], buf[64];
    std::snprintf(path, sizeof path, "/proc/%d/comm", pid);
    os::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
    ssize_t n = fd ? ::read(fd.get(), buf, sizeof buf) : -1;
    if (n <= 0) return "?";
    return std::string(buf, static_cast<std::size_t>(n - (buf[n - 1] == '\n' ? 1 : 0)));
  }

  os::UniqueFd fd_;
  int audit_fd_ = -1;
  std::mutex audit_mu_;
};

// The kernel's audit_log_untrustedstring(): quoted when printable, else hex.
std::string untrusted(std::string_view s) {
  bool plain = std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f && c != '"'; });
  if (plain) return fmt::format("\"{}\"", s);
  std::string out;
  for (unsigned char c : s) out += fmt::format("{:02X}", c);
  return out;
}

Bytes hex_or_text(const nlohmann::json& j, const char* hex_key, const char* text_key) {
  if (j.contains(hex_key)) {
    auto b = from_hex(j[hex_key].get<std::string>());
    return b ? *b : Bytes{};
  }
  std::string s = j.value(text_key, std::string());
  return Bytes(s.begin(), s.end());
}

constexpr std::pair<EventKind, std::string_view> kKinds[] = {
    {EventKind::exec, "exec"}, {EventKind::open, "open"}, {EventKind::close_write, "close_write"}};

}  // namespace

// INTEGRITY_DATA (integrity_audit_msg): "pid= uid= ... op= cause= comm= name=
// dev= ino= res= errno="; INTEGRITY_RULE (ima_audit_measurement): "file= hash=".
std::string audit_record_text(const DecisionRecord& r, std::string_view comm) {
  const FileEvent& e = *r.event;
  const Verdict& v = *r.verdict;
  std::string who = fmt::format("pid={} uid={}", e.pid, e.ids_known ? std::to_string(e.uid) : "?");
  std::string where = fmt::format("container={} imashim_mode={}", untrusted(r.container_id), mode_name(r.mode));
  if (v.cause.empty())
    return fmt::format("file={} hash={} {} comm={} {}", untrusted(e.full_path()),
                       untrusted(v.digest_hex.empty() ? "?" : v.digest_hex), who, untrusted(comm), where);
  bool appraising = r.action.find("appraise") != std::string::npos;
  return fmt::format("{} op={} cause={} comm={} name={} dev=\"{}:{}\" ino={} errno={} {}", who,
                     appraising ? "appraise_data" : "collect_data", v.cause, untrusted(comm), untrusted(e.full_path()),
                     major(static_cast<dev_t>(e.version.dev)), minor(static_cast<dev_t>(e.version.dev)),
                     e.version.ino, v.allow ? 0 : EACCES, where);
}

void append_jsonl(int fd, const nlohmann::json& j) {
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // O_APPEND: one write() per record keeps lines whole between writers.
  ssize_t n = ::write(fd, line.data(), line.size());
  (void)n;
}

Result<std::unique_ptr<DecisionRecorder>> open_recorder(const std::filesystem::path& log_dir, bool kernel_audit) {
  auto path = log_dir / "events.jsonl";
  os::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd) return fail_errno("open `" + path.string() + "`");
  int audit_fd = -1;
  if (kernel_audit) {
    audit_fd = audit_open();  // fails (and we go on) where there is no audit subsystem
    if (audit_fd >= 0) ::fcntl(audit_fd, F_SETFD, FD_CLOEXEC);
  }
  return std::unique_ptr<DecisionRecorder>(new JsonlRecorder(std::move(fd), audit_fd));
}

Result<Bytes> MemoryContent::digest(formats::HashAlgo algo) {
  ++hash_calls;
  if (auto it = digests_.find(algo); it != digests_.end() && content_.empty()) return it->second;
  return formats::hash_bytes(algo, content_);
}
Result<void> MemoryContent::set_ima_xattr(ByteView value) {
  xattr_ = Bytes(value.begin(), value.end());
  return {};
}
Result<Bytes> MemoryContent::head(std::size_t n) {
  if (content_.empty() && !head_.empty()) return Bytes(head_.begin(), head_.begin() + static_cast<std::ptrdiff_t>(std::min(n, head_.size())));
  return Bytes(content_.begin(), content_.begin() + static_cast<std::ptrdiff_t>(std::min(n, content_.size())));
}

Result<RecordedEvent> parse_recorded_event(const nlohmann::json& j) {
  if (!j.is_object()) return fail("recorded event: not a JSON object");
  RecordedEvent r;
  std::string kind = j.value("kind", std::string());
  bool found = false;
  for (const auto& [k, n] : kKinds)
    if (n == kind) r.event.kind = k, found = true;
  if (!found) return fail("recorded event: unknown kind \"" + kind + "\"");
  auto& e = r.event;
  e.pid = j.value("pid", 1);
  e.uid = j.value("uid", 0u);
  e.euid = j.value("euid", e.uid);
  e.gid = j.value("gid", 0u);
  e.egid = j.value("egid", e.gid);
  e.follows_exec = j.value("follows_exec", false);
  e.fowner = j.value("fowner", 0u);
  e.fgroup = j.value("fgroup", 0u);
  e.fmode = j.value("fmode", 0100644u);
  e.fsmagic = j.value("fsmagic", std::uint64_t{0x794c7630});  // overlayfs
  e.path = j.value("path", std::string());
  if (e.path.empty()) return fail("recorded event: no path");
  r.content = hex_or_text(j, "content_hex", "content");
  e.version.dev = j.value("dev", std::uint64_t{1});
  e.version.ino = j.value("ino", std::uint64_t{0});
  e.version.mtime_ns = j.value("mtime_ns", std::int64_t{0});
  e.version.ctime_ns = j.value("ctime_ns", e.version.mtime_ns);
  e.version.size = j.value("size", static_cast<std::int64_t>(r.content.size()));
  if (j.contains("xattr_hex") || j.contains("xattr")) r.xattr = hex_or_text(j, "xattr_hex", "xattr");
  if (j.contains("digests") && j["digests"].is_object()) {
    for (const auto& [name, hex] : j["digests"].items()) {
      auto algo = formats::hash_algo_from_name(name);
      auto d = from_hex(hex.is_string() ? hex.get<std::string>() : std::string("?"));
      if (!algo || !d) return fail("recorded event: bad digest for \"" + name + "\"");
      r.digests[*algo] = *d;
    }
  }
  if (j.contains("head_hex")) r.head = hex_or_text(j, "head_hex", "head");
  return r;
}

Result<std::vector<RecordedEvent>> read_recorded_events(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return fail_errno("open `" + file.string() + "`");
  std::vector<RecordedEvent> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    auto r = parse_recorded_event(j);
    if (!r) return std::move(r).with_context(fmt::format("{}:{}", file.string(), n));
    out.push_back(std::move(*r));
  }
  return out;
}

nlohmann::json recorded_event_json(const FileEvent& e, const std::optional<Bytes>& xattr,
                                   const std::map<formats::HashAlgo, Bytes>& digests, ByteView head) {
  nlohmann::json j = {{"kind", event_kind_name(e.kind)},
                      {"pid", e.pid},
                      {"uid", e.uid},
                      {"euid", e.euid},
                      {"gid", e.gid},
                      {"egid", e.egid},
                      {"follows_exec", e.follows_exec},
                      {"fowner", e.fowner},
                      {"fgroup", e.fgroup},
                      {"fmode", e.fmode},
                      {"fsmagic", e.fsmagic},
                      {"path", e.full_path()},
                      {"dev", e.version.dev},
                      {"ino", e.version.ino},
                      {"mtime_ns", e.version.mtime_ns},
                      {"ctime_ns", e.version.ctime_ns},
                      {"size", e.version.size}};
  if (xattr) j["xattr_hex"] = to_hex(*xattr);
  for (const auto& [algo, d] : digests) j["digests"][std::string(formats::hash_algo_name(algo))] = to_hex(d);
  if (!head.empty()) j["head_hex"] = to_hex(head);
  return j;
}

std::vector<Verdict> replay(Engine& engine, std::vector<RecordedEvent>& events) {
  std::vector<Verdict> out;
  for (auto& r : events) {
    MemoryContent content(r.content, r.xattr, r.digests, r.head);
    if (r.event.kind == EventKind::close_write) {
      engine.modified(r.event, content);
      out.push_back(Verdict{});
    } else {
      out.push_back(engine.decide(r.event, content));
    }
    if (auto x = content.ima_xattr(); x && *x != r.xattr) {
      // A relabel: later events of the same file see the new label.
      for (auto& later : events)
        if (later.event.version.ino == r.event.version.ino) later.xattr = *x;
    }
  }
  return out;
}

}  // namespace imashim::backends::fanotify
