#include "imashim/runtime/config.hpp"

#include <array>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <utility>

#include <fmt/format.h>

namespace imashim::runtime {
namespace {

using backends::Mode;
using nlohmann::json;

constexpr std::array<std::pair<BackendChoice, std::string_view>, 6> kBackendChoices{{
    {BackendChoice::auto_, "auto"},
    {BackendChoice::ns_mount, "ns-mount"},
    {BackendChoice::ns_user, "ns-user"},
    {BackendChoice::host, "host"},
    {BackendChoice::fanotify, "fanotify"},
    {BackendChoice::off, "off"},
}};

constexpr std::array<std::pair<TpmOnFailure, std::string_view>, 2> kOnFailure{{
    {TpmOnFailure::require, "require"},
    {TpmOnFailure::prefer, "prefer"},
}};

template <typename E, std::size_t N>
std::optional<E> lookup(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view name) {
  for (const auto& [v, n] : table)
    if (n == name) return v;
  return std::nullopt;
}
template <typename E, std::size_t N>
std::string_view name_in(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [v, n] : table)
    if (v == e) return n;
  return "?";
}
template <typename E, std::size_t N>
std::string choices(const std::array<std::pair<E, std::string_view>, N>& table) {
  std::string out;
  for (const auto& [v, n] : table) out += (out.empty() ? "" : "|") + std::string(n);
  return out;
}

// Reading one key: a function from the JSON value to the config, an error
// message (without the key) on a bad value.
using KeyReader = std::function<Result<void>(const json&, NodeConfig&)>;

Result<std::string> as_string(const json& v) {
  if (!v.is_string()) return fail(fmt::format("expected a string, got {}", v.type_name()));
  return v.get<std::string>();
}

Result<std::uint64_t> as_count(const json& v) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
    return fail(fmt::format("expected a non-negative integer, got {}", v.dump()));
  return v.get<std::uint64_t>();
}

Result<std::filesystem::path> as_abs_path(const json& v) {
  IMASHIM_TRY(auto s, as_string(v));
  if (s.empty() || s.front() != '/') return fail(fmt::format("expected an absolute path, got \"{}\"", s));
  return std::filesystem::path(s).lexically_normal();
}

template <typename E, std::size_t N>
Result<E> as_enum(const json& v, const std::array<std::pair<E, std::string_view>, N>& table) {
  IMASHIM_TRY(auto s, as_string(v));
  auto e = lookup(table, s);
  if (!e) return fail(fmt::format("unknown value \"{}\" (expected {})", s, choices(table)));
  return *e;
}

constexpr std::array<std::pair<Mode, std::string_view>, 4> kModes{{
    {Mode::off, "off"}, {Mode::measure, "measure"}, {Mode::log, "log"}, {Mode::enforce, "enforce"}}};

// Whether OpenSSL computes `algo`.
bool hash_supported(formats::HashAlgo algo) { return formats::evp_md(algo) != nullptr; }

Result<formats::HashAlgo> as_hash(const json& v) {
  IMASHIM_TRY(auto s, as_string(v));
  auto algo = formats::hash_algo_from_name(s);
  if (!algo || !hash_supported(*algo))
    return fail(fmt::format("unknown or unsupported hash algorithm \"{}\"", s));
  return *algo;
}

Result<TpmConfig> as_tpm(const json& v);

const std::map<std::string, KeyReader, std::less<>>& node_keys() {
  static const std::map<std::string, KeyReader, std::less<>> keys{
      {"backend", [](const json& v, NodeConfig& c) -> Result<void> {
         IMASHIM_TRY(c.backend, as_enum(v, kBackendChoices));
         return {};
       }},
      {"mode", [](const json& v, NodeConfig& c) -> Result<void> {
         IMASHIM_TRY(c.mode, as_enum(v, kModes));
         return {};
       }},
      {"hash_algo", [](const json& v, NodeConfig& c) -> Result<void> {
         IMASHIM_TRY(c.hash_algo, as_hash(v));
         return {};
       }},
      {"profile", [](const json& v, NodeConfig& c) -> Result<void> {
         IMASHIM_TRY(c.profile, as_string(v));
         if (c.profile.empty()) return fail("expected a profile name, got an empty string");
         return {};
       }},
      {"runc_path", [](const json& v, NodeConfig& c) -> Result<void> {
         IMASHIM_TRY(c.runc_path, as_abs_path(v));
         return {};
       }},
      {"tpm", [](const json& v, NodeConfig& c) -> Result<void> {
         if (v.is_null()) {
           c.tpm.reset();
           return {};
         }
         IMASHIM_TRY(c.tpm, as_tpm(v));
         return {};
       }},
      {"state_root", [](const json& v, NodeConfig& c) -> Result<void> {
         IMASHIM_TRY(c.state_root, as_abs_path(v));
         return {};
       }},
      {"log_root", [](const json& v, NodeConfig& c) -> Result<void> {
         IMASHIM_TRY(c.log_root, as_abs_path(v));
         return {};
       }},
      {"layer_cache_root", [](const json& v, NodeConfig& c) -> Result<void> {
         IMASHIM_TRY(c.layer_cache_root, as_abs_path(v));
         return {};
       }},
  };
  return keys;
}

using TpmKeyReader = std::function<Result<void>(const json&, TpmConfig&)>;

const std::map<std::string, TpmKeyReader, std::less<>>& tpm_keys() {
  static const std::map<std::string, TpmKeyReader, std::less<>> keys{
      {"tcti", [](const json& v, TpmConfig& t) -> Result<void> {
         IMASHIM_TRY(t.tcti, as_string(v));
         if (t.tcti.empty()) return fail("expected a TCTI string, got an empty string");
         return {};
       }},
      {"pcr", [](const json& v, TpmConfig& t) -> Result<void> {
         IMASHIM_TRY(auto pcr, as_count(v));
         if (pcr > 23) return fail(fmt::format("PCR index {} out of range 0..23", pcr));
         t.pcr = static_cast<unsigned>(pcr);
         return {};
       }},
      {"on_failure", [](const json& v, TpmConfig& t) -> Result<void> {
         IMASHIM_TRY(t.on_failure, as_enum(v, kOnFailure));
         return {};
       }},
      {"anchor_every_events", [](const json& v, TpmConfig& t) -> Result<void> {
         IMASHIM_TRY(t.anchor_every_events, as_count(v));
         return {};
       }},
      {"anchor_every_seconds", [](const json& v, TpmConfig& t) -> Result<void> {
         IMASHIM_TRY(t.anchor_every_seconds, as_count(v));
         return {};
       }},
  };
  return keys;
}

// Applies every key of `obj` through `keys`; errors name the key with `prefix`.
template <typename Target, typename Keys>
Result<void> read_keys(const json& obj, const Keys& keys, std::string_view prefix, Target& target) {
  for (const auto& [key, value] : obj.items()) {
    auto it = keys.find(key);
    if (it == keys.end()) return fail(fmt::format("key \"{}{}\": unknown key", prefix, key));
    auto r = it->second(value, target);
    if (!r) return fail(fmt::format("key \"{}{}\": {}", prefix, key, r.error().message()));
  }
  return {};
}

Result<TpmConfig> as_tpm(const json& v) {
  if (!v.is_object()) return fail(fmt::format("expected an object, got {}", v.type_name()));
  TpmConfig t;
  auto r = read_keys(v, tpm_keys(), "", t);
  if (!r) return fail(std::string(r.error().message()));
  if (t.tcti.empty()) return fail("key \"tcti\": missing (the TPM to use)");
  return t;
}

bool is_dont_rule(std::string_view line) {
  auto start = line.find_first_not_of(" \t");
  return start != std::string_view::npos && line.substr(start).starts_with("dont_");
}

}  // namespace

std::string_view backend_choice_name(BackendChoice choice) { return name_in(kBackendChoices, choice); }
std::optional<BackendChoice> backend_choice_from_name(std::string_view name) {
  return lookup(kBackendChoices, name);
}

std::optional<backends::Kind> backend_kind(BackendChoice choice) {
  static constexpr std::array<std::pair<BackendChoice, backends::Kind>, 4> kKinds{{
      {BackendChoice::ns_mount, backends::Kind::ns_mount},
      {BackendChoice::ns_user, backends::Kind::ns_user},
      {BackendChoice::host, backends::Kind::host},
      {BackendChoice::fanotify, backends::Kind::fanotify},
  }};
  for (const auto& [c, k] : kKinds)
    if (c == choice) return k;
  return std::nullopt;
}

int mode_rank(Mode mode) {
  static constexpr std::array<Mode, 4> kOrder{Mode::off, Mode::measure, Mode::log, Mode::enforce};
  for (std::size_t i = 0; i < kOrder.size(); ++i)
    if (kOrder[i] == mode) return static_cast<int>(i);
  return 0;
}

Mode stricter_mode(Mode a, Mode b) { return mode_rank(a) >= mode_rank(b) ? a : b; }

nlohmann::json NodeConfig::to_json() const {
  json j{{"backend", backend_choice_name(backend)},
         {"mode", backends::mode_name(mode)},
         {"hash_algo", formats::hash_algo_name(hash_algo)},
         {"profile", profile},
         {"runc_path", runc_path.string()},
         {"state_root", state_root.string()},
         {"log_root", log_root.string()},
         {"layer_cache_root", layer_cache_root.string()},
         {"tpm", nullptr}};
  if (tpm)
    j["tpm"] = {{"tcti", tpm->tcti},
                {"pcr", tpm->pcr},
                {"on_failure", name_in(kOnFailure, tpm->on_failure)},
                {"anchor_every_events", tpm->anchor_every_events},
                {"anchor_every_seconds", tpm->anchor_every_seconds}};
  return j;
}

Result<NodeConfig> parse_node_config(std::string_view text, std::string_view source_name) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return fail(fmt::format("{}: not valid JSON", source_name));
  if (!doc.is_object()) return fail(fmt::format("{}: expected a JSON object, got {}", source_name, doc.type_name()));
  NodeConfig config;
  auto r = read_keys(doc, node_keys(), "", config);
  if (!r) return fail(fmt::format("{}: {}", source_name, r.error().message()));
  config.source = std::string(source_name);
  return config;
}

std::filesystem::path node_config_path() {
  const char* env = std::getenv(std::string(kConfigPathEnv).c_str());
  if (env && *env) return env;
  return std::filesystem::path(kDefaultConfigPath);
}

Result<NodeConfig> load_node_config() {
  auto path = node_config_path();
  const char* env = std::getenv(std::string(kConfigPathEnv).c_str());
  bool named = env && *env;
  std::ifstream in(path);
  if (!in) {
    int err = errno;
    if (err == ENOENT && !named) return NodeConfig{};
    return fail_errno(fmt::format("node config {}", path.string()), err);
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_node_config(buf.str(), path.string());
}

Result<ContainerSettings> container_settings(const NodeConfig& node, const Annotations& annotations) {
  ContainerSettings s;
  s.mode = node.mode;
  s.profile = node.profile;
  if (auto it = annotations.find(std::string(kAnnotationMode)); it != annotations.end()) {
    auto m = backends::mode_from_name(it->second);
    if (!m)
      return fail(fmt::format("annotation {}: unknown mode \"{}\" (expected off|measure|log|enforce)",
                              kAnnotationMode, it->second));
    if (mode_rank(*m) < mode_rank(node.mode))
      s.notes.push_back(fmt::format("annotation {}={} ignored: the node's mode {} is stricter", kAnnotationMode,
                                    it->second, backends::mode_name(node.mode)));
    s.mode = stricter_mode(node.mode, *m);
  }
  if (auto it = annotations.find(std::string(kAnnotationProfile)); it != annotations.end()) {
    if (it->second.empty()) return fail(fmt::format("annotation {}: empty profile name", kAnnotationProfile));
    if (it->second != node.profile) s.extra_profile = it->second;
  }
  if (auto it = annotations.find(std::string(kAnnotationPolicy)); it != annotations.end()) {
    std::istringstream lines(it->second);
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n)
      if (is_dont_rule(line))
        return fail(fmt::format("annotation {}: line {}: \"{}\" would loosen the node's policy (dont_* rules are "
                                "not allowed in annotations)",
                                kAnnotationPolicy, n, line));
    s.extra_policy = it->second;
  }
  return s;
}

}  // namespace imashim::runtime
