#include "imashim/node/events.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>

#include <fmt/format.h>

namespace imashim::node {
namespace fs = std::filesystem;

namespace {

constexpr std::array<AuditType, 9> kTypes = {{
    {1800, "INTEGRITY_DATA"},
    {1801, "INTEGRITY_METADATA"},
    {1802, "INTEGRITY_STATUS"},
    {1803, "INTEGRITY_HASH"},
    {1804, "INTEGRITY_PCR"},
    {1805, "INTEGRITY_RULE"},
    {1806, "INTEGRITY_EVM_XATTR"},
    {1807, "INTEGRITY_POLICY_RULE"},
    {1121, "TRUSTED_APP"},  // the monitor's own records (container=)
}};

// Keys whose values the kernel logs with audit_log_untrustedstring: quoted when
// printable, hex otherwise.
constexpr std::array<std::string_view, 6> kUntrusted = {"name", "file", "comm", "exe", "cwd", "path"};

bool is_hex_string(std::string_view v) {
  return !v.empty() && v.size() % 2 == 0 &&
         std::all_of(v.begin(), v.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string decode_hex(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); i += 2) {
    unsigned byte = 0;
    std::from_chars(v.data() + i, v.data() + i + 2, byte, 16);
    out += static_cast<char>(byte);
  }
  return out;
}

// key=value pairs; values may be "quoted" or 'quoted'.
std::map<std::string, std::string> parse_fields(std::string_view s) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t eq = s.find('=', i);
    std::size_t sp = s.find(' ', i);
    if (eq == std::string_view::npos || (sp != std::string_view::npos && sp < eq)) {
      i = sp == std::string_view::npos ? s.size() : sp + 1;
      continue;
    }
    std::string key(s.substr(i, eq - i));
    std::size_t v = eq + 1;
    std::string value;
    bool quoted = v < s.size() && (s[v] == '"' || s[v] == '\'');
    if (quoted) {
      std::size_t end = s.find(s[v], v + 1);
      if (end == std::string_view::npos) end = s.size();
      value = s.substr(v + 1, end - v - 1);
      i = end + 1;
    } else {
      std::size_t end = s.find(' ', v);
      if (end == std::string_view::npos) end = s.size();
      value = s.substr(v, end - v);
      i = end;
      if (std::find(kUntrusted.begin(), kUntrusted.end(), key) != kUntrusted.end() && is_hex_string(value))
        value = decode_hex(value);
    }
    out[key] = value;
  }
  return out;
}

std::string field(const std::map<std::string, std::string>& f, const char* key) {
  auto it = f.find(key);
  return it == f.end() ? "" : it->second;
}

std::optional<pid_t> as_pid(std::string_view s) {
  pid_t p = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), p);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || p <= 0) return std::nullopt;
  return p;
}

std::optional<nlohmann::json> read_json_file(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

void fill_ref(ContainerRef& ref, const nlohmann::json& j) {
  if (j.contains("rootfs") && j["rootfs"].is_string()) ref.rootfs = j["rootfs"].get<std::string>();
  if (j.contains("pid") && j["pid"].is_number_integer() && j["pid"].get<int>() > 0) ref.pid = j["pid"].get<int>();
}

bool under(const std::string& path, const fs::path& root) {
  std::string r = root.string();
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return !r.empty() && r != "/" && path.size() > r.size() && path.compare(0, r.size(), r) == 0 && path[r.size()] == '/';
}

void read_file_events(const fs::path& file, std::vector<IntegrityEvent>& out, std::vector<std::string>& warnings,
                      bool monitor, const std::vector<ContainerRef>& containers) {
  std::ifstream in(file);
  if (!in) {
    warnings.push_back(fmt::format("cannot read {}", file.string()));
    return;
  }
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    if (monitor) {
      auto e = parse_monitor_line(line);
      if (e) out.push_back(std::move(*e));
      else warnings.push_back(fmt::format("{}:{}: {}", file.string(), n, e.error().message()));
      continue;
    }
    auto e = parse_audit_line(line);
    if (!e) continue;
    attribute(*e, containers);
    out.push_back(std::move(*e));
  }
}

}  // namespace

std::optional<AuditType> integrity_audit_type(std::string_view s) {
  if (s.starts_with("UNKNOWN[") && s.ends_with("]")) s = s.substr(8, s.size() - 9);
  for (const AuditType& t : kTypes)
    if (t.name == s || fmt::format("{}", t.number) == s) return t;
  return std::nullopt;
}

std::optional<IntegrityEvent> parse_audit_line(std::string_view line) {
  line = line.substr(0, line.find('\x1d'));  // auditd's enriched fields follow a GS byte
  std::size_t t = line.find("type=");
  if (t == std::string_view::npos) return std::nullopt;
  std::size_t t_end = line.find(' ', t);
  auto type = integrity_audit_type(line.substr(t + 5, t_end == std::string_view::npos ? std::string_view::npos : t_end - t - 5));
  if (!type) return std::nullopt;
  std::size_t a = line.find("audit(", t);
  std::size_t a_end = a == std::string_view::npos ? a : line.find(')', a);
  if (a_end == std::string_view::npos) return std::nullopt;
  IntegrityEvent e;
  e.source = "audit";
  e.type = type->name;
  e.time = line.substr(a + 6, a_end - a - 6);
  std::size_t body = line.find(':', a_end);
  e.fields = parse_fields(line.substr(body == std::string_view::npos ? a_end + 1 : body + 1));
  // A user-space record (the monitor's) carries its own fields in msg='...'.
  if (auto m = e.fields.find("msg"); m != e.fields.end()) {
    std::string inner = m->second;
    for (auto& [k, v] : parse_fields(inner)) e.fields[k] = v;
  }
  if (type->number == 1121 && !e.fields.count("container")) return std::nullopt;  // not the monitor's
  e.path = field(e.fields, "name");
  if (e.path.empty()) e.path = field(e.fields, "file");  // INTEGRITY_RULE (the policy's audit action)
  e.op = field(e.fields, "op");
  e.cause = field(e.fields, "cause");
  e.result = field(e.fields, "res");
  e.container = field(e.fields, "container");
  e.pid = as_pid(field(e.fields, "pid"));
  return e;
}

Result<IntegrityEvent> parse_monitor_line(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("not a JSON object");
  IntegrityEvent e;
  e.source = "monitor";
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  e.time = str("time");
  e.type = str("event");
  e.container = str("container");
  e.path = str("path");
  e.op = str("action");
  e.cause = str("cause");
  e.result = str("decision");
  if (j.contains("pid") && j["pid"].is_number_integer()) e.pid = j["pid"].get<int>();
  for (auto& [k, v] : j.items()) e.fields[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return e;
}

std::vector<ContainerRef> known_containers(const fs::path& log_root, const fs::path& state_root) {
  std::map<std::string, ContainerRef> refs;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(log_root, ec)) {
    if (!d.is_directory(ec)) continue;
    ContainerRef& ref = refs[d.path().filename().string()];
    ref.id = d.path().filename().string();
    ref.log_dir = d.path().string();
    if (auto j = read_json_file(d.path() / "container.json")) fill_ref(ref, *j);
  }
  for (const auto& d : fs::directory_iterator(state_root, ec)) {
    auto j = read_json_file(d.path() / "state.json");
    if (!j) continue;
    ContainerRef& ref = refs[d.path().filename().string()];
    ref.id = d.path().filename().string();
    fill_ref(ref, *j);
  }
  std::vector<ContainerRef> out;
  for (auto& [id, ref] : refs) out.push_back(std::move(ref));
  return out;
}

void attribute(IntegrityEvent& e, const std::vector<ContainerRef>& containers) {
  if (!e.container.empty()) return;
  for (const ContainerRef& c : containers) {
    if ((!c.rootfs.empty() && under(e.path, c.rootfs)) || (c.pid && e.pid && *c.pid == *e.pid)) {
      e.container = c.id;
      return;
    }
  }
}

nlohmann::json IntegrityEvent::to_json() const {
  nlohmann::json j = {{"source", source}, {"time", time},   {"type", type},     {"container", container},
                      {"path", path},     {"op", op},       {"cause", cause},   {"result", result},
                      {"fields", fields}};
  j["pid"] = pid ? nlohmann::json(*pid) : nlohmann::json();
  return j;
}

Result<EventList> read_events(const EventQuery& q) {
  EventList out;
  std::vector<ContainerRef> containers = known_containers(q.log_root, q.state_root);
  if (!q.container.empty() &&
      std::none_of(containers.begin(), containers.end(), [&](const ContainerRef& c) { return c.id == q.container; }))
    return fail(fmt::format("container `{}`: no log dir under {}", q.container, q.log_root.string()));
  for (const ContainerRef& c : containers) {
    if (!q.container.empty() && c.id != q.container) continue;
    fs::path f = q.log_root / c.id / "events.jsonl";
    std::error_code ec;
    if (fs::exists(f, ec)) read_file_events(f, out.events, out.warnings, true, containers);
  }
  if (q.audit_log) {
    std::error_code ec;
    if (fs::exists(*q.audit_log, ec)) read_file_events(*q.audit_log, out.events, out.warnings, false, containers);
    else out.warnings.push_back(fmt::format("no audit log at {}", q.audit_log->string()));
  }
  if (!q.container.empty())
    std::erase_if(out.events, [&](const IntegrityEvent& e) { return e.container != q.container; });
  return out;
}

}  // namespace imashim::node
